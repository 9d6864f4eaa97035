import pytest

from costtune import toolchain
from costtune.cli import main
from costtune.errors import ToolchainNotFound


@pytest.mark.parametrize("llvm", [19, 14])
def test_find_versions(llvm):
    tc = toolchain.find(llvm)
    assert tc.llvm == llvm
    assert tc.versions["opt"].startswith(f"{llvm}.")
    assert tc.versions["clang"].startswith(f"{llvm}.")
    assert set(tc.targets()) == {"aarch64", "host"}
    assert all(v == "ok" for v in tc.targets().values())


def test_env_var_picks_version(monkeypatch):
    toolchain.find.cache_clear()
    monkeypatch.setenv("COSTTUNE_LLVM", "14")
    try:
        assert toolchain.find().llvm == 14
    finally:
        toolchain.find.cache_clear()


def test_unsupported_version_is_one_line_error(capsys):
    with pytest.raises(ToolchainNotFound):
        toolchain.find(7)
    assert main(["toolchain", "--llvm", "7"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("costtune: error:") and len(err.strip().splitlines()) == 1


def test_missing_tool_names_the_package(monkeypatch, tmp_path):
    toolchain.find.cache_clear()
    monkeypatch.setattr(toolchain, "_find_tool", lambda name, v: None if name == "llc" else tmp_path)
    try:
        with pytest.raises(ToolchainNotFound, match=r"llc .*apt-get install llvm-19"):
            toolchain.find(19)
    finally:
        toolchain.find.cache_clear()


def test_cli_lists_tools(capsys):
    assert main(["toolchain"]) == 0
    out = capsys.readouterr().out
    for tool in ("clang", "opt", "llc", "llvm-link", "llvm-objdump", "ld.lld", "qemu-aarch64"):
        assert tool in out
