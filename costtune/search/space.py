"""Search spaces: what a trial's parameters mean as a pass pipeline.

Two spaces, both FIXED (the same parameter names and distributions for every
trial), so that a sampler can draw whole candidates at once and
:class:`~costtune.integrations.optuna.CostModelSampler` can draw k of them:

``o3-edits`` (the default) - the O3 pipeline as a tree, plus edit slots.
    The tree is what ``opt -passes='default<O3>' -print-pipeline-passes``
    prints for the LLVM found, parsed with its nesting intact: module passes at
    the top, the inliner and the function simplification passes inside
    ``cgscc(devirt<4>(...))``, function passes in ``function<eager-inv>(...)``,
    loop passes in ``loop(...)`` / ``loop-mssa(...)`` inside them. Its *leaves*
    are the passes (bookkeeping such as ``require<>``, ``invalidate<>`` and
    ``verify`` stays fixed and is not editable). A candidate is O3 with up to
    ``slots`` edits applied in order; slot ``i`` has three parameters:

    ``e{i}_op``    none | insert | delete | replace | swap
    ``e{i}_pos``   a leaf index, 0 .. (leaves of O3) - 1; taken modulo the current
                   number of leaves, since earlier edits change it
    ``e{i}_pass``  a safe catalog pass (for insert and replace)

    A pass lands only in a container of its own level: ``insert`` puts it after
    the leaf nearest to ``pos`` whose container fits (a module pass at the top,
    a CGSCC pass beside the inliner, a function pass in a function pipeline -
    including the one the inliner drives - a loop pass in a loop pipeline;
    LICM-like passes that need MemorySSA only in ``loop-mssa``); ``replace``
    swaps that nearest fitting leaf for the pass; ``delete`` drops leaf ``pos``;
    ``swap`` exchanges leaf ``pos`` with the next leaf of the same container.
    With every op ``none`` the candidate is exactly ``default<O3>``, so O3
    itself is a point of the space (the study enqueues it first).
    :meth:`O3EditSpace.local_move` makes local moves of this space: one of a
    candidate's inserted or replacing passes, inserted once more at another
    position (O3 itself runs instcombine, simplifycfg and early-cse several
    times; the best pipelines that searches find on cBench run
    separate-const-offset-from-gep, sink or reg2mem twice), or a new pass
    inserted (qsort1: sink or indvars late in the pipeline).
    Rendering keeps the tree, so edits never flatten the CGSCC walk: a
    flattened O3 rendered with :func:`costtune.passes.render` runs the function
    simplification after, not interleaved with, inlining - a different,
    usually slower pipeline.

``flat`` - ``length`` slots ``p{i}``, each a safe catalog pass or ``-``
    (nothing); the sequence is nested with :func:`costtune.passes.render`.
    This is the random-sequence space of ``costtune collect``, kept for
    comparison: it rarely reaches O3 (random function-level sequences miss the
    inliner and the module passes).
"""

from __future__ import annotations

import abc
import functools
from dataclasses import dataclass, field

from costtune.errors import ConfigError, InvalidPassPipeline
from costtune.passes import Catalog, _split_element, base_name, render, split_top

__all__ = ["SearchSpace", "O3EditSpace", "FlatSpace", "make_space", "o3_pipeline_text", "EDIT_OPS",
           "SPACES"]

EDIT_OPS = ("none", "insert", "delete", "replace", "swap")
SPACES = ("o3-edits", "flat")
#: adaptor -> the level of the passes it holds
_CONTAINER_LEVEL = {"cgscc": "cgscc", "devirt": "cgscc", "function": "function", "loop": "loop",
                    "loop-mssa": "loop", "module": "module"}
_BOOKKEEPING = ("require", "invalidate", "verify", "print", "annotation-remarks", "cg-profile")
SKIP = "-"


class SearchSpace(abc.ABC):
    """A fixed Optuna search space and the map from its parameters to a pipeline.

    Contract: :meth:`distributions` is the same for every trial of a study;
    :meth:`pipeline` is a pure function of the parameters (same params, same
    text) and returns new-PM text for ``opt -passes=`` or a preset name;
    :meth:`o3_params` returns the parameters that mean O3, or None when the
    space cannot express it.
    """

    name: str

    @abc.abstractmethod
    def distributions(self) -> dict:
        """``{param name: optuna distribution}``."""

    @abc.abstractmethod
    def pipeline(self, params: dict) -> str:
        """The pipeline a full parameter dict stands for."""

    def o3_params(self) -> dict | None:
        return None

    def describe(self) -> str:
        return f"{self.name}: {len(self.distributions())} parameters"


@functools.lru_cache(maxsize=None)
def o3_pipeline_text(opt: str) -> str:
    """``default<O3>`` expanded by ``opt -print-pipeline-passes`` (cached per opt binary)."""
    import tempfile

    from costtune import process

    with tempfile.NamedTemporaryFile("w", suffix=".ll") as f:
        f.write("\n")
        f.flush()
        res = process.run([opt, "-passes=default<O3>", "-print-pipeline-passes", "-disable-output", f.name],
                          timeout=60)
    if not res.ok:
        raise InvalidPassPipeline(f"{opt} cannot print the O3 pipeline: {res.stderr_tail()}")
    return res.stdout.decode().strip()


# ----------------------------------------------------------------------------- the O3 tree

@dataclass
class _Node:
    head: str  #: adaptor text (``function<eager-inv>``) or a leaf's full text (``gvn<>``)
    children: list | None = None  #: None for a leaf
    level: str = "module"  #: the level of the container the node sits in
    editable: bool = False

    def emit(self) -> str:
        if self.children is None:
            return self.head
        return f"{self.head}({','.join(c.emit() for c in self.children)})"

    def copy(self) -> "_Node":
        return _Node(self.head, None if self.children is None else [c.copy() for c in self.children],
                     self.level, self.editable)


def _parse_tree(text: str, catalog: Catalog, level: str = "module") -> list[_Node]:
    out = []
    for elem in split_top(text):
        head, inner = _split_element(elem)
        name = base_name(head)
        if inner is not None:
            child_level = _CONTAINER_LEVEL.get(name)
            if child_level is None:
                raise InvalidPassPipeline(f"O3 pipeline: unknown adaptor {head!r}")
            out.append(_Node(head, _parse_tree(inner, catalog, child_level), level))
        else:
            editable = not name.startswith(_BOOKKEEPING) and name in catalog
            out.append(_Node(head, None, level, editable))
    return out


def _leaves(nodes: list[_Node], parent=None, acc=None) -> list[tuple[list[_Node], int, str, str]]:
    """Editable leaves in order: (sibling list, index in it, container level, container adaptor)."""
    acc = [] if acc is None else acc
    for i, n in enumerate(nodes):
        if n.children is not None:
            _leaves(n.children, base_name(n.head), acc)
        elif n.editable:
            acc.append((nodes, i, n.level, parent or "module"))
    return acc


@dataclass
class O3EditSpace(SearchSpace):
    """O3 as a tree plus ``slots`` edit slots (see the module docstring)."""

    catalog: Catalog
    o3_text: str
    slots: int = 8
    name: str = "o3-edits"
    _tree: list = field(init=False, repr=False)
    _pool: list = field(init=False, repr=False)

    def __post_init__(self):
        if self.slots < 1:
            raise ConfigError("the o3-edits space needs at least one edit slot")
        self._tree = _parse_tree(self.o3_text, self.catalog)
        self.n_leaves = len(_leaves(self._tree))
        if self.n_leaves < 2:
            raise InvalidPassPipeline("the O3 pipeline has fewer than two editable passes")
        # insertable passes: safe, no prerequisite of their own, at a level the tree has
        self._pool = sorted(r.name for r in self.catalog.rows
                            if r.safe and not r.prefix and r.level in ("module", "cgscc", "function", "loop", "loop-nest"))

    def distributions(self) -> dict:
        from optuna.distributions import CategoricalDistribution, IntDistribution

        d = {}
        for i in range(self.slots):
            d[f"e{i}_op"] = CategoricalDistribution(EDIT_OPS)
            d[f"e{i}_pos"] = IntDistribution(0, self.n_leaves - 1)
            d[f"e{i}_pass"] = CategoricalDistribution(self._pool)
        return d

    def o3_params(self) -> dict:
        return {**{f"e{i}_op": "none" for i in range(self.slots)},
                **{f"e{i}_pos": 0 for i in range(self.slots)},
                **{f"e{i}_pass": self._pool[0] for i in range(self.slots)}}

    def local_move(self, params: dict, rng, kinds: str = "repeat") -> dict | None:
        """A local move from ``params`` into a free edit slot, or None (then
        ``CostModelSampler(mutate=...)`` redraws one or two parameters uniformly instead).

        ``kinds="repeat"``: half the time, one of the passes ``params`` inserts or puts in is
        inserted once more at a uniform position; ``"edits"``: a third of the time that, a third
        a uniform pass inserted at a uniform position (a whole new edit, which a redraw of one or
        two parameters seldom makes). None when there is no free slot or nothing to repeat."""
        r = rng.random()
        if r < (0.5 if kinds == "repeat" else 1 / 3):
            return None
        free = [i for i in range(self.slots) if params.get(f"e{i}_op", "none") == "none"]
        used = [params[f"e{i}_pass"] for i in range(self.slots) if params.get(f"e{i}_op") in ("insert", "replace")]
        new = kinds == "edits" and r >= 2 / 3
        if not free or not (used or new):
            return None
        i = rng.choice(free)
        return {**params, f"e{i}_op": "insert", f"e{i}_pos": rng.randrange(self.n_leaves),
                f"e{i}_pass": rng.choice(self._pool if new else used)}

    def random_params(self, rng, n_edits: int) -> dict:
        """``n_edits`` (at most ``slots``) uniform edits - op, position, pass - in the first slots."""
        params = self.o3_params()
        for i in range(min(n_edits, self.slots)):
            params.update({f"e{i}_op": rng.choice([op for op in EDIT_OPS if op != "none"]),
                           f"e{i}_pos": rng.randrange(self.n_leaves), f"e{i}_pass": rng.choice(self._pool)})
        return params

    def edits(self, params: dict) -> list[tuple[str, int, str]]:
        return [(params[f"e{i}_op"], int(params[f"e{i}_pos"]), params[f"e{i}_pass"])
                for i in range(self.slots) if params.get(f"e{i}_op", "none") != "none"]

    def _fits(self, pass_name: str, level: str, adaptor: str) -> bool:
        info = self.catalog.get(pass_name)
        want = "loop" if info.level == "loop-nest" else info.level
        if want != level:
            return False
        if want == "loop":  # passes the catalog wraps in loop-mssa need MemorySSA
            return adaptor == "loop-mssa" or "loop-mssa" not in info.path
        return True

    def pipeline(self, params: dict) -> str:
        edits = self.edits(params)
        if not edits:
            return "O3"  # exactly default<O3>, whatever the tree's text
        tree = [n.copy() for n in self._tree]
        for op, pos, pname in edits:
            leaves = _leaves(tree)
            if not leaves:
                break
            pos %= len(leaves)
            if op == "delete":
                sib, i, _, _ = leaves[pos]
                if sum(1 for n in sib if n.children is not None or n.editable) > 1:
                    del sib[i]  # never empty a container: opt refuses "function()"
            elif op == "swap":
                sib, i, _, _ = leaves[pos]
                j = next((k for k in range(i + 1, len(sib)) if sib[k].editable), None)
                if j is not None:
                    sib[i], sib[j] = sib[j], sib[i]
            elif op in ("insert", "replace"):
                order = sorted(range(len(leaves)), key=lambda k: (abs(k - pos), k))
                hit = next((k for k in order if self._fits(pname, leaves[k][2], leaves[k][3])), None)
                if hit is None:
                    continue
                sib, i, level, _ = leaves[hit]
                node = _Node(self.catalog.get(pname).form, None, level, True)
                if op == "insert":
                    sib.insert(i + 1, node)
                else:
                    sib[i] = node
            else:
                raise ConfigError(f"unknown edit op {op!r}")
        return ",".join(n.emit() for n in tree)


@dataclass
class FlatSpace(SearchSpace):
    """``length`` slots, each a safe pass or nothing, nested by :func:`render`."""

    catalog: Catalog
    length: int = 30
    name: str = "flat"

    def __post_init__(self):
        if self.length < 1:
            raise ConfigError("the flat space needs length >= 1")
        self._pool = sorted(self.catalog.safe_names())

    def distributions(self) -> dict:
        from optuna.distributions import CategoricalDistribution

        return {f"p{i}": CategoricalDistribution([SKIP, *self._pool]) for i in range(self.length)}

    def pipeline(self, params: dict) -> str:
        names = [params[f"p{i}"] for i in range(self.length) if params.get(f"p{i}", SKIP) != SKIP]
        return render(names, self.catalog) if names else "O0"


def make_space(kind: str, catalog: Catalog, opt: str, *, slots: int = 8, length: int = 30) -> SearchSpace:
    if kind == "o3-edits":
        from costtune.passes import check_syntax

        text = o3_pipeline_text(str(opt))
        try:
            check_syntax(text)
        except InvalidPassPipeline:
            text = without_semicolons(text)
        return O3EditSpace(catalog, text, slots)
    if kind == "flat":
        return FlatSpace(catalog, length)
    raise ConfigError(f"unknown search space {kind!r} (choose from {', '.join(SPACES)})")


# ----------------------------------------------------------------------------- portability

_SEMI_REWRITES = {
    "instcombine": "instcombine<no-verify-fixpoint>",  # max-iterations=1, no-use-loop-info are defaults
    "loop-rotate": "loop-rotate",  # header-duplication, no-prepare-for-lto are defaults
    "simple-loop-unswitch": "simple-loop-unswitch<nontrivial>",  # trivial is a default
    "loop-vectorize": "loop-vectorize",  # the forced-only flags are defaults
    "function": "function<eager-inv>",
}


def without_semicolons(text: str) -> str:
    """Rewrite multi-parameter elements (``a<x;y>``) to single-parameter forms.

    ``costtune.passes.check_syntax`` refuses ``;`` in a pipeline (as a shell
    character) although opt needs it to separate parameters and costtune never
    uses a shell. Until that check accepts it, the O3 tree is rewritten with
    this: exact for instcombine, loop-rotate, unswitch and loop-vectorize (the
    dropped parameters are opt's defaults); ``simplifycfg`` keeps only
    ``switch-range-to-icmp`` (its other O3 variants lose hoist/sink/lookup
    options), so the tree's O3 is close to, not identical with, ``default<O3>``.
    """
    def walk(t: str) -> str:
        out = []
        for elem in split_top(t):
            head, inner = _split_element(elem)
            name = base_name(head)
            if ";" in head:
                if name == "simplifycfg":
                    opts = head[len(name) + 1:-1].split(";")
                    head = "simplifycfg<switch-range-to-icmp>" if "switch-range-to-icmp" in opts else "simplifycfg"
                else:
                    head = _SEMI_REWRITES.get(name, name)
            out.append(head if inner is None else f"{head}({walk(inner)})")
        return ",".join(out)

    return walk(text)
