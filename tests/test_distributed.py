"""Data-parallel training: two gloo processes on CPU give the one-process result.

The tiny real model and dataset of tests/test_model.py (real compiled asm, real qemu
counts, a 2-layer Llama pretrained on it) are trained twice with the same seed: in
this process, and through ``costtune train --devices 2`` (two spawned workers, gloo).
LoRA dropout is 0, so the two runs must agree to float rounding: the loss and
gradient-norm history (the gradient norm catches a wrong scale, which Adam would hide),
adapter and head weights, and the scores of the saved models.

One parameter is exempt: the rank head's bias. Adding a constant to every chunk score
shifts every candidate's cost equally, and the loss sees only cost differences, so its
gradient is zero in exact arithmetic - what it gets is rounding noise, which Adam
scales up to full-size steps of random sign. The bias therefore differs between any two
summation orders; scores are compared with it taken out (it offsets all scores alike).
The other weights agree to ~1e-5, but a few elements get the same Adam amplification of
rounding in the first steps: up to 3.1e-5 with the packages a fresh install resolved in
2026-12 (deterministically; 3e-5 had held before). Hence atol 1e-4: still 50x below one Adam
step (lr 5e-3), which is what a wrong or missing all-reduce moves weights by.
"""

from __future__ import annotations

import json

import pytest

import torch  # noqa: E402
import safetensors.torch as safetensors_torch  # noqa: E402

from test_model import TINY_TRAIN, dataset, tiny_base  # noqa: E402,F401 - the shared tiny model fixtures

from costtune.cli import main as cli_main  # noqa: E402
from costtune.errors import ConfigError  # noqa: E402
from costtune.model import CostModel, TrainConfig  # noqa: E402
from costtune.model.distributed import deal, launch_mode  # noqa: E402
from costtune.model.train import train  # noqa: E402

# six steps over the training program's group; dropout off so that runs are comparable
DDP_TRAIN = dict(TINY_TRAIN, epochs=6.0, lora_dropout=0.0)


def _weights(model_dir) -> dict:
    w = {f"adapter.{k}": v for k, v in safetensors_torch.load_file(str(model_dir / "adapter" / "adapter_model.safetensors")).items()}
    if (model_dir / "head.safetensors").is_file():
        w.update({f"head.{k}": v for k, v in safetensors_torch.load_file(str(model_dir / "head.safetensors")).items()})
    return w


def _run_both(head, dataset, base, tmp_path, capsys):
    cfg = TrainConfig(**DDP_TRAIN, head=head)
    one = train(dataset, base, tmp_path / "one", cfg)
    cfg.save(tmp_path / "cfg.yaml")
    capsys.readouterr()
    rc = cli_main(["train", "--data", str(dataset), "--base", str(base), "--out", str(tmp_path / "two"),
                   "--config", str(tmp_path / "cfg.yaml"), "--devices", "2", "--json"])
    assert rc == 0
    two = json.loads(capsys.readouterr().out)
    return one, two


@pytest.mark.parametrize("head", ["rank", "pairwise-sft"])
def test_two_gloo_processes_equal_one_process(head, dataset, tiny_base, tmp_path, capsys):
    from costtune.model.data import load_ranking

    one, two = _run_both(head, dataset, tiny_base[0], tmp_path, capsys)
    assert two["devices"] == 2 and one.devices == 1
    assert two["steps"] == one.steps >= 4
    assert [h["loss"] for h in two["history"]] == pytest.approx([h["loss"] for h in one.history], abs=1e-5)
    assert [h["grad_norm"] for h in two["history"]] == pytest.approx([h["grad_norm"] for h in one.history], rel=1e-4)
    wa, wb = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert sorted(wa) == sorted(wb)
    lora_b = [k for k in wa if "lora_B" in k]
    assert lora_b and any(wa[k].abs().max() > 1e-4 for k in lora_b)  # training moved the adapter off zero
    for k in wa:
        if k != "head.bias":
            diff = float((wb[k] - wa[k]).abs().max())
            assert diff < 1e-4, f"{k} differs by {diff:.2e}"
    cfg_two = json.loads((tmp_path / "two" / "costtune_model.json").read_text())
    assert cfg_two["metrics"]["devices"] == 2 and sorted(p.name for p in (tmp_path / "two").iterdir()) == \
        sorted(p.name for p in (tmp_path / "one").iterdir())
    if head == "rank":
        cands = [c.functions for c in load_ranking(dataset)]
        sa = [x - float(wa["head.bias"][0]) for x in CostModel.from_pretrained(tmp_path / "one").score(cands)]
        sb = [x - float(wb["head.bias"][0]) for x in CostModel.from_pretrained(tmp_path / "two").score(cands)]
        assert len(set(round(x, 4) for x in sa)) > 1 and sb == pytest.approx(sa, abs=1e-5)


def test_deal_is_deterministic_balanced_and_complete():
    lengths = [5, 64, 64, 3, 17, 40, 64, 1, 9]
    shares = deal(lengths, 2)
    assert shares == deal(lengths, 2)
    assert sorted(i for s in shares for i in s) == list(range(len(lengths)))
    assert abs(len(shares[0]) - len(shares[1])) <= 1
    tokens = [sum(lengths[i] for i in s) for s in shares]
    assert max(tokens) - min(tokens) <= max(lengths)
    assert deal([7], 3) == [[0], [], []]  # more ranks than items: empty shares (they score a dummy)


def test_launch_modes_and_refusals(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert launch_mode(None) == "single" and launch_mode(1) == "single" and launch_mode(2) == "spawn"
    with pytest.raises(ConfigError, match="fsdp"):
        launch_mode(2, "fsdp")
    with pytest.raises(ConfigError):
        launch_mode(0)
    monkeypatch.setenv("WORLD_SIZE", "4")  # as torchrun sets it
    assert launch_mode(None) == "worker" and launch_mode(4) == "worker"
    with pytest.raises(ConfigError, match="WORLD_SIZE=4"):
        launch_mode(2)


def test_cli_refuses_fsdp_with_one_line(dataset, tiny_base, tmp_path, capsys):
    rc = cli_main(["train", "--data", str(dataset), "--base", str(tiny_base[0]), "--out", str(tmp_path / "m"),
                   "--devices", "2", "--strategy", "fsdp"])
    err = capsys.readouterr().err
    assert rc == 2 and "fsdp" in err and "Traceback" not in err and not (tmp_path / "m").exists()
