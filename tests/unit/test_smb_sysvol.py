"""SYSVOL over SMB: error mapping, atomic replace, tolerated absences, the signed-SMB-3 requirement."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._smb import sysvol as _sysvol
from ansible_collections.scanready.windows.plugins.module_utils._smb.sysvol import Sysvol, SysvolError
from impacket.nmb import NetBIOSTimeout
from impacket.smbconnection import SessionError

from tests.unit.test_smb_signing import FakeLoggedOnServer

PASSWORD = "Unit-Test-Secret-9"


class FakeSmb:
    """An SMBConnection whose operations record calls or raise the NT status they were given."""

    def __init__(self, fail: dict[str, BaseException] | None = None, dialect: int = 0x311, signing: bool = True):
        self.fail = fail or {}
        self.calls: list[tuple[str, str]] = []
        self.dialect, self.signing = dialect, signing
        self.closed = False
        self.server = FakeLoggedOnServer()

    def getSMBServer(self) -> FakeLoggedOnServer:
        return self.server

    def _do(self, name: str, path: str) -> None:
        self.calls.append((name, path))
        if name in self.fail:
            raise self.fail[name]

    def login(self, user: str, password: str, domain: str) -> None:
        self._do("login", f"{domain}\\{user}")
        self.server.receive_logon_reply()

    def getDialect(self) -> int:
        return self.dialect

    def isSigningRequired(self) -> bool:
        return self.signing

    def getFile(self, share: str, path: str, callback: Any) -> None:
        self._do("getFile", path)
        callback(b"data")

    def putFile(self, share: str, path: str, callback: Any) -> None:
        self._do("putFile", path)
        assert callback(100) == b"new"

    def rename(self, share: str, old: str, new: str) -> None:
        self._do("rename", f"{old} -> {new}")

    def createDirectory(self, share: str, path: str) -> None:
        self._do("createDirectory", path)

    def deleteFile(self, share: str, path: str) -> None:
        self._do("deleteFile", path)

    def close(self) -> None:
        self.closed = True


def status(code: int) -> SessionError:
    return SessionError(code)


def test_read_returns_none_for_a_missing_file_and_bytes_otherwise() -> None:
    assert Sysvol(FakeSmb(), "dc", "sysvol").read("a") == b"data"
    missing = FakeSmb({"getFile": status(0xC0000034)})
    assert Sysvol(missing, "dc", "sysvol").read("a") is None
    missing_path = FakeSmb({"getFile": status(0xC000003A)})
    assert Sysvol(missing_path, "dc", "sysvol").read("a\\b") is None


def test_write_goes_beside_then_renames_over() -> None:
    smb = FakeSmb()
    Sysvol(smb, "dc", "sysvol").write(r"p\GPT.INI", b"new")
    assert smb.calls == [("putFile", r"p\GPT.INI.scanready-tmp"), ("rename", r"p\GPT.INI.scanready-tmp -> p\GPT.INI")]


def test_failures_name_the_cause() -> None:
    denied = Sysvol(FakeSmb({"putFile": status(0xC0000022)}), "dc1", "sysvol")
    with pytest.raises(SysvolError, match=r"access denied: cannot write \\\\dc1\\sysvol\\x.scanready-tmp"):
        denied.write("x", b"new")
    no_share = Sysvol(FakeSmb({"getFile": status(0xC00000CC)}), "dc1", "sysvol")
    with pytest.raises(SysvolError, match="has no share 'sysvol'"):
        no_share.read("x")
    gone = Sysvol(FakeSmb({"getFile": NetBIOSTimeout()}), "dc1", "sysvol")
    with pytest.raises(SysvolError, match="stopped answering during read x: no answer in time"):
        gone.read("x")
    reset = Sysvol(FakeSmb({"deleteFile": ConnectionResetError(104, "Connection reset by peer")}), "dc1", "sysvol")
    with pytest.raises(SysvolError, match="Connection reset by peer"):
        reset.remove("x")
    other = Sysvol(FakeSmb({"putFile": status(0xC000007F)}), "dc1", "sysvol")
    with pytest.raises(SysvolError, match="STATUS_DISK_FULL"):
        other.write("x", b"new")


def test_mkdir_and_remove_tolerate_what_is_already_so() -> None:
    assert Sysvol(FakeSmb(), "dc", "s").mkdir("d") is True
    assert Sysvol(FakeSmb({"createDirectory": status(0xC0000035)}), "dc", "s").mkdir("d") is False
    assert Sysvol(FakeSmb(), "dc", "s").remove("f") is True
    assert Sysvol(FakeSmb({"deleteFile": status(0xC0000034)}), "dc", "s").remove("f") is False


@pytest.mark.parametrize(("smb", "message"), [
    (FakeSmb({"login": status(0xC000006D)}), "refused: wrong user name or password"),
    (FakeSmb({"login": status(0xC0000234)}), "refused: account locked out"),
    (FakeSmb(dialect=0x210), "no signed SMB 3 session"),
    (FakeSmb(signing=False), "no signed SMB 3 session"),
])
def test_connect_refuses_with_a_reason_and_closes(monkeypatch: pytest.MonkeyPatch, smb: FakeSmb, message: str) -> None:
    monkeypatch.setattr(_sysvol, "_connection", lambda *args, **kwargs: smb)
    with pytest.raises(SysvolError, match=message) as err:
        Sysvol.connect("dc1", "192.0.2.1", "admin@EX.TEST", PASSWORD, 5)
    assert PASSWORD not in str(err.value)
    assert smb.closed


def test_connect_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError(111, "Connection refused")
    monkeypatch.setattr(_sysvol, "_connection", refuse)
    with pytest.raises(SysvolError, match=r"DC dc1 unreachable on SMB \(445\): Connection refused"):
        Sysvol.connect("dc1", "192.0.2.1", "admin@EX.TEST", PASSWORD, 5)


def test_connect_logs_on_with_the_upn_whole_or_domain_and_user(monkeypatch: pytest.MonkeyPatch) -> None:
    smb = FakeSmb()
    monkeypatch.setattr(_sysvol, "_connection", lambda *args, **kwargs: smb)
    Sysvol.connect("dc1", "192.0.2.1", "admin@EX.TEST", PASSWORD, 5)
    Sysvol.connect("dc1", "192.0.2.1", "EX\\admin", PASSWORD, 5)
    assert [c for c in smb.calls if c[0] == "login"] == [("login", "\\admin@EX.TEST"), ("login", "EX\\admin")]


def test_a_refusal_raised_by_the_smb3_layer_is_a_sysvol_error_too() -> None:
    from impacket import smb3

    def query_a_file_as_a_folder() -> None:
        raise smb3.SessionError(0xC0000103, None)  # STATUS_NOT_A_DIRECTORY

    expected = r"cannot read the ACL of \\\\dc1\\sysvol\\p\\GPT.INI: STATUS_NOT_A_DIRECTORY"
    with pytest.raises(SysvolError, match=expected):
        Sysvol(FakeSmb(), "dc1", "sysvol")._call("read the ACL of", r"p\GPT.INI", query_a_file_as_a_folder)


class Tree:
    """A share as listPath, deleteFile and deleteDirectory see it: path -> None (folder), bytes (file) or 'link'."""

    def __init__(self, nodes: dict[str, Any]) -> None:
        self.nodes = nodes
        self.deleted: list[str] = []

    def listPath(self, share: str, pattern: str) -> list[Any]:
        folder = pattern[:-2]
        if self.nodes.get(folder, b"") is not None:
            raise status(0xC000003A)  # STATUS_OBJECT_PATH_NOT_FOUND
        inside = [p for p in self.nodes if p.rpartition("\\")[0] == folder]
        return [SimpleNamespace(get_longname=lambda p=p: p.rpartition("\\")[2],
                                is_directory=lambda p=p: self.nodes[p] in (None, "link"),
                                get_attributes=lambda p=p: 0x400 if self.nodes[p] == "link" else 0)
                for p in [folder + "\\.", *inside]]

    def deleteFile(self, share: str, path: str) -> None:
        self.deleted.append(path)

    def deleteDirectory(self, share: str, path: str) -> None:
        self.deleted.append(path)


def test_delete_tree_removes_children_first() -> None:
    tree = Tree({"G": None, "G\\Machine": None, "G\\Machine\\Registry.pol": b"x", "G\\GPT.INI": b"y"})
    assert Sysvol(tree, "dc1", "sysvol").delete_tree("G")
    assert tree.deleted == ["G\\Machine\\Registry.pol", "G\\Machine", "G\\GPT.INI", "G"]
    assert not Sysvol(Tree({}), "dc1", "sysvol").delete_tree("G")


def test_delete_tree_refuses_a_junction_before_deleting_anything() -> None:
    """Issue 21, item 7: a reparse point in the GPO's folder could lead to another GPO's folder, or anywhere."""
    tree = Tree({"G": None, "G\\GPT.INI": b"y", "G\\Machine": "link"})
    with pytest.raises(SysvolError, match=r"G\\Machine is a junction or link .*nothing was deleted"):
        Sysvol(tree, "dc1", "sysvol").delete_tree("G")
    assert tree.deleted == []
