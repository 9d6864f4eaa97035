"""The function-variant model: its input text, training, saving, and its place in the profile estimate."""

import math

import pytest

pytest.importorskip("torch")

from costtune.model.variant_model import (  # noqa: E402
    Ensemble, VariantModel, adapted, annotate, count_token, is_variant_model, load, targets, tokenize, train)
from costtune.search.variants import VariantTable  # noqa: E402

REF = """<f>:
mov w8, wzr
L1:
add w8, w8, #1
cmp w8, #100
b.lt L1
cbz w0, L2
bl g
L2:
ret
"""
# the same loop unrolled by two: a shape the table has never seen
NEW = """<f>:
mov w8, wzr
L1:
add w8, w8, #2
cmp w8, #100
b.lt L1
bl g
ret
"""


def test_annotate_marks_block_counts_callee_counts_and_leaves_cold_blocks_out():
    tokens = annotate(REF, [1, 100, 1, 0, 1], 305.0, {"g": 7.0})
    assert tokens[0] == count_token(305.0)
    assert tokens[tokens.index("add") - 1] == count_token(100)
    assert "bl" not in tokens and "g" not in tokens  # the cold block (executed 0 times) is one token
    assert count_token(0) in tokens
    hot = annotate(REF, [1, 100, 1, 1, 1], 306.0, {"g": 7.0})
    assert hot[hot.index("g") + 1] == count_token(7.0)
    assert tokenize(NEW)[:4] == ["mov", "w8", "wzr", "\n"]


def _examples(n):
    # the target is readable from the text: the loop step (1 or 2) halves the count
    out = []
    for i in range(n):
        step = 1 + i % 2
        text = NEW.replace("#2", f"#{step}")
        out.append({"ref": annotate(REF, [1, 100, 1, 0, 1], 305.0, {}), "new": tokenize(text),
                    "target": math.log(1 / step), "weight": 1.0})
    return out


def test_train_learns_a_readable_target_and_saves_what_it_loads(tmp_path):
    ex = _examples(32)
    m = train(ex, tmp_path / "vm", validation=ex[:8], epochs=30, lr=3e-3, batch=8, dim=32, layers=1, heads=2)
    pred = m.predict([(e["ref"], e["new"]) for e in ex[:4]])
    assert all(abs(p - e["target"]) < 0.2 for p, e in zip(pred, ex[:4])), pred
    loaded = VariantModel.load(tmp_path / "vm")
    again = loaded.predict([(e["ref"], e["new"]) for e in ex[:4]])
    assert max(abs(a - b) for a, b in zip(pred, again)) < 1e-2  # weights are stored as float16
    # an ensemble averages its members: with a copy whose output is shifted by 1, by 0.5
    import torch

    shifted = VariantModel.load(tmp_path / "vm")
    with torch.no_grad():
        shifted.net.head.bias += 1.0
    Ensemble([loaded, shifted]).save(tmp_path / "ens")
    assert is_variant_model(tmp_path / "ens") and is_variant_model(tmp_path / "vm") and not is_variant_model(tmp_path)
    both = load(tmp_path / "ens").predict([(e["ref"], e["new"]) for e in ex[:4]])
    assert both == pytest.approx([a + 0.5 for a in again], abs=2e-2)  # float16 weights


def test_a_broken_model_directory_is_one_error(tmp_path):
    from costtune.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="variant model"):
        VariantModel.load(tmp_path)
    # a description without its fields, weights that are not safetensors, an ensemble of nothing
    (tmp_path / "variant_model.json").write_text("{}")
    (tmp_path / "weights.safetensors").write_text("not weights")
    with pytest.raises(ModelLoadError, match="KeyError"):
        load(tmp_path)
    (tmp_path / "variant_model.json").write_text('{"vocab": ["<pad>", "<unk>", "<sep>", "<ref>", "<new>"], '
                                                 '"dim": 8, "layers": 1, "heads": 2}')
    with pytest.raises(ModelLoadError, match="SafetensorError"):
        load(tmp_path)
    for members in ("[]", '{"members": []}', '{"members": "m0"}'):
        (tmp_path / "ensemble.json").write_text(members)
        with pytest.raises(ModelLoadError, match="ensemble"):
            load(tmp_path)


class _Halves:
    """A function model that always predicts half the reference's count (log ratio)."""

    def predict(self, pairs):
        return [math.log(0.5)] * len(pairs)


def test_the_profile_estimate_asks_the_model_only_for_variants_of_new_shape():
    functions = {"f": REF, "main": "<main>:\nbl f\nret\n"}
    table = VariantTable(function_model=_Halves())
    table.observe("h0", functions, {"f": 305, "main": 2}, 400.0,
                  {"f": [1, 100, 1, 1, 1], "main": [1, 1]})
    assert table.estimate(functions) == 400.0  # all known: exact
    cand = {"f": NEW, "main": functions["main"]}
    expected = 400.0 - 305 + (305 + 1) * 0.5 - 1
    assert table.estimate(cand) == pytest.approx(expected)
    assert table.estimate_many([cand, functions]) == [pytest.approx(expected), 400.0]
    assert VariantTable().estimate(cand) != pytest.approx(expected)  # without a model: length scaling


def test_a_model_of_the_scaled_base_predicts_a_correction_of_the_length_scaling(tmp_path):
    class Zero:
        base = "scaled"

        def predict(self, pairs):
            return [0.0] * len(pairs)

    functions = {"f": REF, "main": "<main>:\nbl f\nret\n"}
    seen = ("h0", functions, {"f": 305, "main": 2}, 400.0, {"f": [1, 100, 1, 1, 1], "main": [1, 1]})
    zero, halves, plain = VariantTable(function_model=Zero()), VariantTable(function_model=_Halves()), VariantTable()
    for t in (zero, halves, plain):
        t.observe(*seen)
    cand = {"f": NEW, "main": functions["main"]}
    assert zero.estimate(cand) == pytest.approx(plain.estimate(cand))  # 0: the length scaling itself
    assert zero.estimate(cand) != pytest.approx(halves.estimate(cand))
    # a new model of that base starts there, and keeps its base when saved and loaded
    ex = targets([{**e, "true": 150.0, "ref_count": 305.0, "scaled": 230.0} for e in _examples(8)], "scaled")
    assert ex[0]["target"] == pytest.approx(math.log(151 / 231))
    m = train(ex, tmp_path / "vm", epochs=0, dim=16, layers=1, heads=2, base="scaled")
    assert m.predict([(e["ref"], e["new"]) for e in ex[:2]]) == [0.0, 0.0]
    assert load(tmp_path / "vm").base == "scaled" and VariantModel.load(tmp_path / "vm").predict(
        [(ex[0]["ref"], ex[0]["new"])]) == [0.0]


def test_a_nearer_reference_observed_later_replaces_an_earlier_prediction():
    functions = {"f": REF, "main": "<main>:\nbl f\nret\n"}
    table = VariantTable(function_model=_Halves())
    table.observe("h0", functions, {"f": 305, "main": 2}, 400.0, {"f": [1, 100, 1, 1, 1], "main": [1, 1]})
    cand = {"f": NEW, "main": functions["main"]}
    first = table.estimate(cand)
    # a measured variant of f of a third shape, with another count: the prediction is made again
    other = REF.replace("cbz w0, L2\n", "")
    table.observe("h1", {"f": other, "main": functions["main"]}, {"f": 205, "main": 2}, 300.0,
                  {"f": [1, 100, 1, 1], "main": [1, 1]})
    assert table.estimate(cand) != first


def test_a_function_cold_in_every_profiled_variant_is_scaled_not_predicted():
    calls = []

    class Counting(_Halves):
        def predict(self, pairs):
            calls.append(len(pairs))
            return super().predict(pairs)

    # f ran 3 of the program's 400,000 instructions (below COLD_SHARE): scaled by length, as without a model
    functions = {"f": REF, "main": "<main>:\nbl f\nret\n"}
    seen = ("h0", functions, {"f": 3, "main": 2}, 400_000.0, {"f": [1, 0, 1, 0, 1], "main": [1, 1]})
    table, plain = VariantTable(function_model=Counting()), VariantTable()
    table.observe(*seen)
    plain.observe(*seen)
    cand = {"f": NEW, "main": functions["main"]}
    assert table.estimate_many([cand]) == [plain.estimate(cand)] and table.estimate(cand) == plain.estimate(cand)
    assert calls == []
    # the same function hot: the model is asked
    hot = VariantTable(function_model=Counting())
    hot.observe("h0", functions, {"f": 300_000, "main": 2}, 400_000.0, {"f": [1, 0, 1, 0, 1], "main": [1, 1]})
    hot.estimate_many([cand])
    assert calls == [1]


def test_a_search_in_which_the_model_orders_measured_candidates_worse_than_length_scaling_falls_back_to_it():
    from costtune.search.variants import MIN_CHECKS

    main = "<main>:\nbl f\nret\n"
    # variant k: k more instructions, run k x 100 times; the length scaling orders them right
    variants = [NEW.replace("mov w8, wzr\n", "mov w8, wzr\n" + "add w9, w9, #1\n" * k) for k in range(1, MIN_CHECKS + 2)]
    for step, trusted in ((-0.1, False), (0.1, True)):  # the model's predictions fall / rise with k
        calls = []

        class Ordered:
            def predict(self, pairs):
                calls.append(len(pairs))
                return [step * len(calls)] * len(pairs)

        table, plain = VariantTable(function_model=Ordered()), VariantTable()
        for t in (table, plain):
            t.observe("h0", {"f": REF, "main": main}, {"f": 305, "main": 2}, 400.0,
                      {"f": [1, 100, 1, 1, 1], "main": [1, 1]})
        for k, text in enumerate(variants[:MIN_CHECKS], 1):  # measured, not block-profiled: no new reference
            assert table.model_trusted()
            for t in (table, plain):
                t.observe(f"h{k}", {"f": text, "main": main}, {"f": 100 * k, "main": 2}, 100 * k + 95.0)
        assert len(table.checks) == MIN_CHECKS and calls == [1] * MIN_CHECKS  # each estimated once, as measured
        assert table.model_trusted() == trusted
        cand = {"f": variants[-1], "main": main}
        n = len(calls)
        if trusted:
            assert table.estimate_many([cand]) != [plain.estimate(cand)] and len(calls) == n + 1
        else:  # the length scaling, as without a model, and the model is not asked
            assert table.estimate_many([cand]) == [plain.estimate(cand)] and len(calls) == n


def test_adapting_to_any_number_of_measured_variants_trains(tmp_path):
    model = train(_examples(8), tmp_path / "vm", epochs=1, batch=8, dim=32, layers=1, heads=2, log=lambda m: None)
    pair = [(_examples(1)[0]["ref"], _examples(1)[0]["new"])]
    # 65 variants at a search's batch of 16 and 2 epochs: 10 steps, on which torch's one-cycle schedule divided by
    # zero (its warm-up ended on the first step) and the search stopped with a traceback
    for n in (1, 16, 65, 80):
        a = adapted(model, _examples(n), epochs=2, lr=1e-3)
        assert a is not model and math.isfinite(a.predict(pair)[0]) and a.predict(pair) != model.predict(pair)


def test_adapt_fine_tunes_a_copy_of_the_model_on_the_measured_variants_it_read(tmp_path):
    main = "<main>:\nbl f\nret\n"
    model = train(_examples(8), tmp_path / "vm", epochs=1, batch=8, dim=32, layers=1, heads=2, log=lambda m: None)
    table = VariantTable(function_model=model)
    assert not table.adapt()  # nothing measured yet
    table.observe("h0", {"f": REF, "main": main}, {"f": 305, "main": 2}, 400.0,
                  {"f": [1, 100, 1, 1, 1], "main": [1, 1]})
    table.observe("h1", {"f": NEW, "main": main}, {"f": 50, "main": 2}, 145.0)  # a new variant the model read
    (ex,) = table.examples
    assert ex["new"] == tokenize(NEW) and ex["target"] == pytest.approx(math.log(51 / 306))
    pair = [(ex["ref"], ex["new"])]
    before = model.predict(pair)
    assert table.adapt(epochs=40, lr=3e-3)
    assert table.function_model is not model and model.predict(pair) == before  # the shipped model is untouched
    assert abs(table.function_model.predict(pair)[0] - ex["target"]) < 0.3 < abs(before[0] - ex["target"])
