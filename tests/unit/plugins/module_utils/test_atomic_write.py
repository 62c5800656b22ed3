# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one atomic replace of a file, and the writers that go through it."""

from __future__ import annotations

import json
import os
import stat

import pytest
from ansible_collections.twovalue.sla.plugins.module_utils import atomic_write as module
from ansible_collections.twovalue.sla.plugins.module_utils.atomic_write import (
    atomic_file,
    atomic_write,
)
from ansible_collections.twovalue.sla.plugins.module_utils.cms_release import record_schema
from ansible_collections.twovalue.sla.plugins.module_utils.host_state import (
    write_simulation_cache,
)
from ansible_collections.twovalue.sla.plugins.module_utils.site_deploy import (
    STATE_FILE,
    SiteDeploy,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.advice_files import write_text


@pytest.fixture
def synced(monkeypatch):
    """Every fsync as ('file' | 'dir', inode), in order."""
    calls = []
    real = os.fsync

    def fsync(fd):
        info = os.fstat(fd)
        calls.append(("dir" if stat.S_ISDIR(info.st_mode) else "file", info.st_ino))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


def test_text_and_bytes_are_written_whole_with_the_mode_asked(tmp_path):
    text_file, bytes_file = tmp_path / "a.json", tmp_path / "b.bin"
    atomic_write(str(text_file), "ünïcode\n", mode=0o640)
    atomic_write(str(bytes_file), b"\x00\x01", mode=0o600)
    assert text_file.read_text(encoding="utf-8") == "ünïcode\n"
    assert bytes_file.read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(text_file.stat().st_mode) == 0o640
    assert stat.S_IMODE(bytes_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.bin"]


def test_like_keeps_the_replaced_files_mode_and_owner(tmp_path):
    path = tmp_path / "LocalSettings.php"
    path.write_text("old")
    os.chmod(path, 0o640)
    owners = []
    atomic_write(
        str(path), "new", like=str(path), chown=lambda p, uid, gid: owners.append((uid, gid))
    )
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert owners == [(path.stat().st_uid, path.stat().st_gid)]


def test_setgid_and_setuid_bits_survive_the_owner_change(tmp_path):
    # chown clears these bits on Linux even for root, so the mode must come after it.
    path = tmp_path / "LocalSettings.php"
    path.write_text("old")
    os.chmod(path, 0o2750)
    atomic_write(str(path), "new", like=str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o2750
    atomic_write(str(path), "newer", mode=0o4750, owner=(os.getuid(), os.getgid()))
    assert stat.S_IMODE(path.stat().st_mode) == 0o4750


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_a_new_file_without_a_mode_follows_the_umask_as_open_would(tmp_path, umask):
    previous = os.umask(umask)
    try:
        atomic_write(str(tmp_path / "advice.md"), "text")
        with open(tmp_path / "plain.md", "w", encoding="utf-8") as handle:
            handle.write("text")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "advice.md").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "plain.md").stat().st_mode) == 0o666 & ~umask


def test_a_crash_before_the_rename_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    path.write_text("old")

    def crash(_src, _dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="No space"):
        atomic_write(str(path), "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_failing_check_or_block_keeps_the_old_file(tmp_path):
    path = tmp_path / "sudoers"
    path.write_text("old")
    seen = []

    def refuse(candidate):
        with open(candidate, encoding="utf-8") as handle:
            seen.append(handle.read())
        raise ValueError("visudo refused it")

    with pytest.raises(ValueError, match="visudo"):
        atomic_write(str(path), "broken", before_replace=refuse)
    with pytest.raises(RuntimeError), atomic_file(str(path)) as handle:
        handle.write(b"half")
        raise RuntimeError("the dump died")
    assert seen == ["broken"]
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["sudoers"]


def test_file_and_then_directory_reach_the_disk(tmp_path, synced):
    path = tmp_path / "manifest.json"
    atomic_write(str(path), "{}")
    assert synced == [("file", path.stat().st_ino), ("dir", tmp_path.stat().st_ino)]


def test_a_symlink_at_the_path_is_replaced_not_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "authorized_keys"
    link.symlink_to(victim)
    atomic_write(str(link), "ssh-ed25519 AAAA")
    assert victim.read_text() == "precious"
    assert not link.is_symlink()
    assert link.read_text() == "ssh-ed25519 AAAA"


def test_the_temporary_name_cannot_be_guessed(tmp_path, monkeypatch):
    names = []
    real = module.tempfile.mkstemp

    def mkstemp(**kwargs):
        fd, name = real(**kwargs)
        names.append(name)
        return fd, name

    monkeypatch.setattr(module.tempfile, "mkstemp", mkstemp)
    for _ in range(2):
        atomic_write(str(tmp_path / "x"), "x")
    assert len(set(names)) == 2
    assert all(os.path.dirname(n) == str(tmp_path) for n in names)


def _deploy_state(root):
    SiteDeploy(None)._save_state(str(root), {"release": "2.0"})
    return root / STATE_FILE, json.dumps({"release": "2.0"}, indent=1, sort_keys=True)


def _schema_record(root):
    path = root / "cms-schema.json"
    record_schema(str(path), "/var/www/wiki", "1.39.18")
    return path, json.dumps({"/var/www/wiki": "1.39.18"}, indent=2, sort_keys=True)


def _simulation_cache(root):
    path = root / "apt-simulation.json"
    write_simulation_cache(str(path), {"format": 3})
    return path, json.dumps({"format": 3})


def _advice(root):
    path = root / "advice" / "update.md"
    write_text(str(path), "# Advice\n")
    return path, "# Advice\n"


@pytest.mark.parametrize(
    "writer",
    [_deploy_state, _schema_record, _simulation_cache, _advice],
    ids=["deploy-state", "cms-schema", "apt-simulation-cache", "advice"],
)
def test_writers_follow_no_planted_tmp_file_and_sync_what_they_write(tmp_path, synced, writer):
    """These writers used a fixed ``<path>.tmp`` and no fsync: whoever could write the
    directory could point that name at any file for root to overwrite, two writers
    clobbered each other, and a crash could leave an empty file behind."""
    victim = tmp_path / "victim"
    victim.write_text("precious")
    for name in (STATE_FILE, "cms-schema.json", "apt-simulation.json", "advice/update.md"):
        planted = tmp_path / f"{name}.tmp"
        planted.parent.mkdir(exist_ok=True)
        planted.symlink_to(victim)
    path, expected = writer(tmp_path)
    assert path.read_text(encoding="utf-8") == expected
    assert victim.read_text() == "precious"
    assert ("file", path.stat().st_ino) in synced
    assert ("dir", path.parent.stat().st_ino) in synced
