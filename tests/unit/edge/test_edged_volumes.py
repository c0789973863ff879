"""Edged's pod volumes on disk: the kubelet's layout, AtomicWriter updates, hostPath checks, mounts."""

import base64
import logging
import os
import stat
import threading
from pathlib import Path

import pytest

from kedge.edge.edged import volumes as vols
from kedge.edge.edged.env import CONFIG_ERROR, ConfigError
from kedge.edge.edged.runtime.base import Mount
from kedge.edge.edged.volumes import (
    DATA_DIR,
    FAILED_MOUNT,
    AtomicWriter,
    FileProjection,
    PodVolumes,
    remove_pod_dir,
)

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="tmpfs mounts need root")

UID = "0b6c2c5e-1111-2222-3333-444455556666"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def make_pod(volumes, uid=UID, **meta):
    return {
        "metadata": {"name": "web", "namespace": "shop", "uid": uid, **meta},
        "spec": {"volumes": volumes, "containers": [{"name": "app", "image": "x"}]},
    }


class Store:
    """The lookup Edged passes in: ConfigMaps/Secrets by (kind, namespace, name), editable by the test."""

    def __init__(self):
        self.objects = {
            ("configmap", "shop", "cfg"): {
                "kind": "ConfigMap",
                "data": {"app.conf": "port=80\n", "log.conf": "level=info\n"},
                "binaryData": {"logo.bin": b64(b"\x00\x01\x02")},
            },
            ("secret", "shop", "sec"): {
                "kind": "Secret",
                "data": {"token": b64(b"t0ken"), "ca.crt": b64(b"CA")},
            },
        }

    def __call__(self, kind, namespace, name):
        return self.objects.get((kind, namespace, name))

    def set_cm(self, name, data):
        self.objects[("configmap", "shop", name)] = {"kind": "ConfigMap", "data": data}


@pytest.fixture
def store():
    return Store()


def vdir(root: Path, plugin: str, name: str) -> Path:
    return root / "pods" / UID / "volumes" / plugin / name


def listing(path: Path) -> dict[str, str]:
    """name -> symlink target (or 'dir'/'file') of the entries directly in path."""
    out = {}
    for entry in sorted(os.listdir(path)):
        full = path / entry
        out[entry] = os.readlink(full) if full.is_symlink() else ("dir" if full.is_dir() else "file")
    return out


# -- ConfigMap / Secret volumes ------------------------------------------------------------------------


def test_config_map_volume_layout_is_the_atomic_writer_scheme(tmp_path, store):
    pv = PodVolumes(tmp_path, use_tmpfs=False)
    paths = pv.prepare(make_pod([{"name": "cfg", "configMap": {"name": "cfg"}}]), store)
    target = vdir(tmp_path, "kubernetes.io~configmap", "cfg")
    assert paths == {"cfg": str(target)}
    entries = listing(target)
    ts = entries[DATA_DIR]
    assert ts.startswith("..20") and (target / ts).is_dir() and not Path(ts).is_absolute()
    assert {k: v for k, v in entries.items() if not k.startswith("..")} == {
        "app.conf": "..data/app.conf",
        "log.conf": "..data/log.conf",
        "logo.bin": "..data/logo.bin",
    }
    assert sorted(k for k in entries if k.startswith("..")) == sorted([DATA_DIR, ts])
    assert (target / "app.conf").read_text() == "port=80\n"
    assert (target / "logo.bin").read_bytes() == b"\x00\x01\x02"
    assert stat.S_IMODE(os.stat(target / "app.conf").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(target / ts).st_mode) == 0o755


def test_items_modes_and_nested_paths(tmp_path, store):
    vol = {
        "name": "cfg",
        "configMap": {
            "name": "cfg",
            "defaultMode": 0o600,
            "items": [
                {"key": "app.conf", "path": "conf/main/app.conf", "mode": 0o440},
                {"key": "log.conf", "path": "log"},
            ],
        },
    }
    PodVolumes(tmp_path, use_tmpfs=False).prepare(make_pod([vol]), store)
    target = vdir(tmp_path, "kubernetes.io~configmap", "cfg")
    visible = {k: v for k, v in listing(target).items() if not k.startswith("..")}
    assert visible == {"conf": "..data/conf", "log": "..data/log"}
    assert (target / "conf/main/app.conf").read_text() == "port=80\n"
    assert stat.S_IMODE(os.stat(target / "conf/main/app.conf").st_mode) == 0o440
    assert stat.S_IMODE(os.stat(target / "log").st_mode) == 0o600
    assert not (target / "logo.bin").exists()


def test_secret_volume_decodes_and_honours_default_mode(tmp_path, store):
    vol = {"name": "s", "secret": {"secretName": "sec", "defaultMode": 0o400}}
    paths = PodVolumes(tmp_path, use_tmpfs=False).prepare(make_pod([vol]), store)
    target = Path(paths["s"])
    assert target == vdir(tmp_path, "kubernetes.io~secret", "s")
    assert (target / "token").read_bytes() == b"t0ken"
    assert stat.S_IMODE(os.stat(target / "ca.crt").st_mode) == 0o400


@pytest.mark.parametrize(
    ("vol", "message"),
    [
        (
            {"configMap": {"name": "nope"}},
            'MountVolume.SetUp failed for volume "v" : configmap "nope" not found',
        ),
        (
            {"secret": {"secretName": "nope"}},
            'MountVolume.SetUp failed for volume "v" : secret "nope" not found',
        ),
        (
            {"configMap": {"name": "cfg", "items": [{"key": "zz", "path": "zz"}]}},
            'MountVolume.SetUp failed for volume "v" : configmap references non-existent config key: zz',
        ),
        (
            {"secret": {"secretName": "sec", "items": [{"key": "zz", "path": "zz"}]}},
            'MountVolume.SetUp failed for volume "v" : references non-existent secret key: zz',
        ),
    ],
)
def test_missing_objects_and_keys_fail_the_mount(tmp_path, store, vol, message):
    with pytest.raises(ConfigError) as info:
        PodVolumes(tmp_path, use_tmpfs=False).prepare(make_pod([{"name": "v", **vol}]), store)
    assert info.value.reason == FAILED_MOUNT
    assert info.value.message == message


def test_optional_missing_object_or_key_gives_what_exists(tmp_path, store):
    pod = make_pod(
        [
            {"name": "a", "configMap": {"name": "nope", "optional": True}},
            {
                "name": "b",
                "secret": {
                    "secretName": "sec",
                    "optional": True,
                    "items": [{"key": "zz", "path": "zz"}, {"key": "token", "path": "t"}],
                },
            },
        ]
    )
    paths = PodVolumes(tmp_path, use_tmpfs=False).prepare(pod, store)
    assert listing(Path(paths["a"])).keys() == {DATA_DIR, os.readlink(Path(paths["a"]) / DATA_DIR)}
    assert {k for k in listing(Path(paths["b"])) if not k.startswith("..")} == {"t"}


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../escape", "must not contain '..'"),
        ("a/../../escape", "must not contain '..'"),
        ("/etc/passwd", "must be relative path"),
        ("..data/x", "must not start with '..'"),
        ("", "must not be empty"),
    ],
)
def test_item_paths_cannot_leave_the_volume(tmp_path, store, path, why):
    vol = {"name": "v", "configMap": {"name": "cfg", "items": [{"key": "app.conf", "path": path}]}}
    with pytest.raises(ConfigError) as info:
        PodVolumes(tmp_path, use_tmpfs=False).prepare(make_pod([vol]), store)
    assert 'invalid path for key "app.conf"' in info.value.message and why in info.value.message
    assert not (tmp_path / "escape").exists()


def test_a_hostile_key_name_is_rejected(tmp_path, store):
    store.set_cm("evil", {"..data": "x"})
    with pytest.raises(ConfigError, match=r'invalid path for key "\.\.data"'):
        PodVolumes(tmp_path, use_tmpfs=False).prepare(
            make_pod([{"name": "v", "configMap": {"name": "evil"}}]), store
        )


@pytest.mark.parametrize("mode", [0o1000, -1, "0644", True])
def test_bad_modes_are_named(tmp_path, store, mode):
    vol = {"name": "v", "configMap": {"name": "cfg", "defaultMode": mode}}
    with pytest.raises(ConfigError, match="defaultMode must be a file mode"):
        PodVolumes(tmp_path, use_tmpfs=False).prepare(make_pod([vol]), store)


# -- updates -------------------------------------------------------------------------------------------


def test_update_rewrites_only_changed_content(tmp_path, store):
    pod = make_pod(
        [{"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "s", "secret": {"secretName": "sec"}}]
    )
    pv = PodVolumes(tmp_path, use_tmpfs=False)
    pv.prepare(pod, store)
    target = vdir(tmp_path, "kubernetes.io~configmap", "cfg")
    first = os.readlink(target / DATA_DIR)

    assert pv.update(pod, store) == ([], [])
    assert pv.prepare(pod, store)  # idempotent too
    assert os.readlink(target / DATA_DIR) == first

    store.set_cm("cfg", {"app.conf": "port=8080\n", "new.conf": "x"})
    assert pv.update(pod, store) == (["cfg"], [])
    second = os.readlink(target / DATA_DIR)
    assert second != first
    assert (target / "app.conf").read_text() == "port=8080\n"
    assert (target / "new.conf").read_text() == "x"
    # keys that went away disappear, and so does the old timestamp directory
    assert sorted(listing(target)) == sorted([DATA_DIR, second, "app.conf", "new.conf"])


def test_a_mode_change_is_a_change(tmp_path, store):
    pod = make_pod([{"name": "cfg", "configMap": {"name": "cfg"}}])
    pv = PodVolumes(tmp_path, use_tmpfs=False)
    pv.prepare(pod, store)
    pod["spec"]["volumes"][0]["configMap"]["defaultMode"] = 0o640
    assert pv.update(pod, store) == (["cfg"], [])
    assert (
        stat.S_IMODE(os.stat(vdir(tmp_path, "kubernetes.io~configmap", "cfg") / "app.conf").st_mode) == 0o640
    )


def test_update_keeps_old_content_when_the_object_vanishes(tmp_path, store):
    pod = make_pod(
        [{"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "s", "secret": {"secretName": "sec"}}]
    )
    pv = PodVolumes(tmp_path, use_tmpfs=False)
    pv.prepare(pod, store)
    del store.objects[("configmap", "shop", "cfg")]
    store.objects[("secret", "shop", "sec")]["data"]["token"] = b64(b"rotated")
    changed, errors = pv.update(pod, store)
    assert changed == ["s"]
    assert [e.message for e in errors] == [
        'MountVolume.SetUp failed for volume "cfg" : configmap "cfg" not found'
    ]
    assert (vdir(tmp_path, "kubernetes.io~configmap", "cfg") / "app.conf").read_text() == "port=80\n"
    assert (vdir(tmp_path, "kubernetes.io~secret", "s") / "token").read_bytes() == b"rotated"


def test_the_swap_is_the_only_visible_step(tmp_path, monkeypatch):
    """At the rename of ..data the new directory is complete and readers still see the old content;
    right after it they see the new content. Nothing before the rename changes what they see."""
    target = tmp_path / "vol"
    writer = AtomicWriter(target, "v")
    writer.write({"a": FileProjection(b"old-a"), "b/c": FileProjection(b"old-c")})
    seen = []
    real_replace = os.replace

    def observing_replace(src, dst):
        new_dir = target / os.readlink(src)
        seen.append(
            (
                (target / "a").read_bytes(),
                (target / "b/c").read_bytes(),
                (new_dir / "a").read_bytes(),
                (new_dir / "b/c").read_bytes(),
            )
        )
        real_replace(src, dst)
        seen.append(((target / "a").read_bytes(), (target / "b/c").read_bytes()))

    monkeypatch.setattr(vols.os, "replace", observing_replace)
    assert writer.write({"a": FileProjection(b"new-a"), "b/c": FileProjection(b"new-c")})
    assert seen == [(b"old-a", b"old-c", b"new-a", b"new-c"), (b"new-a", b"new-c")]


def test_concurrent_readers_never_see_a_mix(tmp_path):
    """A reader racing many updates reads either a whole old file or a whole new one."""
    target = tmp_path / "vol"
    writer = AtomicWriter(target, "v")
    contents = [bytes([65 + i % 26]) * 65536 for i in range(40)]
    writer.write({"f": FileProjection(contents[0])})
    done = threading.Event()
    bad: list[bytes] = []
    reads = [0]

    def reader():
        while not done.is_set():
            try:
                data = (target / "f").read_bytes()
            except OSError as e:  # the file must never be missing either
                bad.append(repr(e).encode())
                continue
            reads[0] += 1
            if len(data) != 65536 or data.count(data[:1]) != len(data):
                bad.append(data[:16])

    t = threading.Thread(target=reader)
    t.start()
    try:
        for content in contents[1:]:
            assert writer.write({"f": FileProjection(content)})
    finally:
        done.set()
        t.join()
    assert bad == [] and reads[0] > 0
    assert (target / "f").read_bytes() == contents[-1]
    assert len([n for n in os.listdir(target) if n.startswith("..20")]) == 1


def test_a_crash_leftover_is_cleaned_on_the_next_write(tmp_path):
    target = tmp_path / "vol"
    writer = AtomicWriter(target, "v")
    writer.write({"f": FileProjection(b"1")})
    (target / "..2001_01_01_00_00_00.crash").mkdir()  # a directory a killed writer left behind
    os.symlink("..2001_01_01_00_00_00.crash", target / "..data_tmp")
    (target / "f").unlink()  # and a visible link it had not made yet
    assert writer.write({"f": FileProjection(b"1")})  # repaired although the content is the same
    assert sorted(listing(target)) == sorted([DATA_DIR, os.readlink(target / DATA_DIR), "f"])


# -- downwardAPI / projected ---------------------------------------------------------------------------


def test_downward_api_volume(tmp_path, store):
    pod = make_pod(
        [
            {
                "name": "info",
                "downwardAPI": {
                    "items": [
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o400},
                        {
                            "path": "mem",
                            "resourceFieldRef": {
                                "containerName": "app",
                                "resource": "limits.memory",
                                "divisor": "1Mi",
                            },
                        },
                    ]
                },
            }
        ],
        labels={"b": "2", "a": "1"},
    )
    pod["spec"]["containers"][0]["resources"] = {"limits": {"memory": "64Mi"}}
    pv = PodVolumes(tmp_path, use_tmpfs=False)
    target = Path(pv.prepare(pod, store)["info"])
    assert target == vdir(tmp_path, "kubernetes.io~downward-api", "info")
    assert (target / "labels").read_text() == 'a="1"\nb="2"'
    assert (target / "name").read_text() == "web"
    assert (target / "mem").read_text() == "64"
    assert stat.S_IMODE(os.stat(target / "name").st_mode) == 0o400
    # a label change reaches the file through update
    pod["metadata"]["labels"]["c"] = "3"
    assert pv.update(pod, store) == (["info"], [])
    assert (target / "labels").read_text() == 'a="1"\nb="2"\nc="3"'


def test_projected_volume_combines_sources_and_skips_tokens(tmp_path, store, caplog):
    vol = {
        "name": "all",
        "projected": {
            "defaultMode": 0o444,
            "sources": [
                {"configMap": {"name": "cfg", "items": [{"key": "app.conf", "path": "cfg/app.conf"}]}},
                {"secret": {"name": "sec", "items": [{"key": "token", "path": "sec/token", "mode": 0o400}]}},
                {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                {"configMap": {"name": "nope", "optional": True}},
            ],
        },
    }
    with caplog.at_level(logging.INFO, logger="kedge.edge.edged.volumes"):
        target = Path(PodVolumes(tmp_path, use_tmpfs=False).prepare(make_pod([vol]), store)["all"])
    assert target == vdir(tmp_path, "kubernetes.io~projected", "all")
    assert (target / "cfg/app.conf").read_text() == "port=80\n"
    assert (target / "sec/token").read_bytes() == b"t0ken"
    assert (target / "ns").read_text() == "shop"
    assert not (target / "token").exists()
    assert stat.S_IMODE(os.stat(target / "cfg/app.conf").st_mode) == 0o444
    assert stat.S_IMODE(os.stat(target / "sec/token").st_mode) == 0o400
    assert "serviceAccountToken is not supported" in caplog.text


# -- emptyDir / hostPath / others ----------------------------------------------------------------------


def test_empty_dir_on_disk(tmp_path, store, caplog):
    pv = PodVolumes(tmp_path, use_tmpfs=False)
    with caplog.at_level(logging.INFO, logger="kedge.edge.edged.volumes"):
        paths = pv.prepare(
            make_pod(
                [{"name": "scratch", "emptyDir": {}}, {"name": "mem", "emptyDir": {"medium": "Memory"}}]
            ),
            store,
        )
    for name in ("scratch", "mem"):
        path = Path(paths[name])
        assert path == vdir(tmp_path, "kubernetes.io~empty-dir", name)
        assert path.is_dir() and not os.path.ismount(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o777
    assert "volume mem is memory-backed" in caplog.text and "scratch" not in caplog.text
    (Path(paths["scratch"]) / "kept").write_text("data")
    pv.prepare(make_pod([{"name": "scratch", "emptyDir": {}}]), store)
    assert (Path(paths["scratch"]) / "kept").read_text() == "data"


def test_unsupported_medium_and_volume_types(tmp_path, store):
    pv = PodVolumes(tmp_path, use_tmpfs=False)
    with pytest.raises(ConfigError, match='emptyDir medium "HugePages" is not supported'):
        pv.prepare(make_pod([{"name": "h", "emptyDir": {"medium": "HugePages"}}]), store)
    with pytest.raises(ConfigError) as info:
        pv.prepare(make_pod([{"name": "data", "persistentVolumeClaim": {"claimName": "c"}}]), store)
    assert info.value.reason == FAILED_MOUNT
    assert info.value.message == (
        'MountVolume.SetUp failed for volume "data" : '
        "volume type persistentVolumeClaim is not supported on this node"
    )


@ROOT_ONLY
def test_memory_volumes_are_tmpfs_when_root(tmp_path, store):
    pv = PodVolumes(tmp_path)
    assert pv.use_tmpfs
    pod = make_pod(
        [
            {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}},
            {"name": "s", "secret": {"secretName": "sec"}},
        ]
    )
    try:
        paths = pv.prepare(pod, store)
        mem, sec = Path(paths["mem"]), Path(paths["s"])
        assert os.path.ismount(mem) and os.path.ismount(sec)
        st = os.statvfs(mem)
        assert st.f_blocks * st.f_frsize == 8 << 20
        assert stat.S_IMODE(os.stat(mem).st_mode) == 0o777
        assert (sec / "token").read_bytes() == b"t0ken"
        pv.prepare(pod, store)  # mounted once, not stacked
        assert _mount_count(mem) == 1
    finally:
        problems = remove_pod_dir(tmp_path, UID)
    assert problems == []
    assert not (tmp_path / "pods" / UID).exists()
    assert _mount_count(mem) == 0


def _mount_count(path: Path) -> int:
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if line.split()[4] == str(path))


@pytest.mark.parametrize("kind", ["", "Directory", "DirectoryOrCreate"])
def test_host_path_directory(tmp_path, store, kind):
    host = tmp_path / "host" / "data"
    host.mkdir(parents=True)
    vol = {"name": "h", "hostPath": {"path": str(host), "type": kind}}
    assert PodVolumes(tmp_path, use_tmpfs=False).prepare(make_pod([vol]), store) == {"h": str(host)}


def test_host_path_or_create_creates(tmp_path, store):
    d, f = tmp_path / "made" / "dir", tmp_path / "file.sock"
    pod = make_pod(
        [
            {"name": "d", "hostPath": {"path": str(d), "type": "DirectoryOrCreate"}},
            {"name": "f", "hostPath": {"path": str(f), "type": "FileOrCreate"}},
        ]
    )
    PodVolumes(tmp_path, use_tmpfs=False).prepare(pod, store)
    assert d.is_dir() and f.is_file()


@pytest.mark.parametrize(
    ("kind", "setup", "text"),
    [
        ("Directory", None, "is not a directory"),
        ("Directory", "file", "is not a directory"),
        ("File", None, "is not a file"),
        ("File", "dir", "is not a file"),
        ("DirectoryOrCreate", "file", "is not a directory"),
        ("Socket", "file", "is not a socket file"),
        ("CharDevice", "file", "is not a character device"),
        ("BlockDevice", "dir", "is not a block device"),
    ],
)
def test_host_path_type_checks(tmp_path, store, kind, setup, text):
    path = tmp_path / "target"
    if setup == "file":
        path.write_text("x")
    elif setup == "dir":
        path.mkdir()
    with pytest.raises(ConfigError) as info:
        PodVolumes(tmp_path, use_tmpfs=False).prepare(
            make_pod([{"name": "h", "hostPath": {"path": str(path), "type": kind}}]), store
        )
    assert info.value.reason == FAILED_MOUNT
    assert (
        info.value.message
        == 'MountVolume.SetUp failed for volume "h" : hostPath type check failed: %s %s'
        % (
            path,
            text,
        )
    )


def test_host_path_bad_type_and_relative_path(tmp_path, store):
    pv = PodVolumes(tmp_path, use_tmpfs=False)
    with pytest.raises(ConfigError, match="Folder is an invalid volume type"):
        pv.prepare(make_pod([{"name": "h", "hostPath": {"path": "/tmp", "type": "Folder"}}]), store)
    with pytest.raises(ConfigError, match="must be absolute"):
        pv.prepare(make_pod([{"name": "h", "hostPath": {"path": "tmp"}}]), store)


# -- mounts --------------------------------------------------------------------------------------------


@pytest.fixture
def prepared(tmp_path, store):
    host = tmp_path / "hostdata"
    host.mkdir()
    pod = make_pod(
        [
            {"name": "cfg", "configMap": {"name": "cfg"}},
            {"name": "scratch", "emptyDir": {}},
            {"name": "host", "hostPath": {"path": str(host)}},
        ]
    )
    pv = PodVolumes(tmp_path, use_tmpfs=False)
    paths = pv.prepare(pod, store)
    return pv, paths


def test_mounts(prepared):
    pv, paths = prepared
    c = {
        "name": "app",
        "volumeMounts": [
            {"name": "cfg", "mountPath": "/etc/app"},
            {"name": "scratch", "mountPath": "/work"},
            {"name": "host", "mountPath": "/data", "readOnly": True},
            {"name": "scratch", "mountPath": "rel"},
        ],
    }
    assert pv.mounts(c) == [
        Mount("/etc/app", paths["cfg"], True),  # content volumes are always read-only
        Mount("/work", paths["scratch"], False),
        Mount("/data", paths["host"], True),
        Mount("/rel", paths["scratch"], False),
    ]


def test_sub_paths(prepared):
    pv, paths = prepared
    c = {
        "name": "app",
        "volumeMounts": [
            {"name": "cfg", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
            {"name": "scratch", "mountPath": "/logs", "subPath": "logs/app"},
            {"name": "scratch", "mountPath": "/mine", "subPathExpr": "pods/$(POD)"},
        ],
    }
    mounts = pv.mounts(c, env=[("POD", "web-1")])
    cfg_real = os.path.realpath(Path(paths["cfg"]) / DATA_DIR)
    # a configmap subPath binds the file itself (so, as with the kubelet, it does not follow updates)
    assert mounts[0] == Mount("/etc/app.conf", os.path.join(cfg_real, "app.conf"), True)
    assert mounts[1] == Mount("/logs", os.path.join(paths["scratch"], "logs/app"), False)
    assert mounts[2].host_path == os.path.join(paths["scratch"], "pods/web-1")
    assert Path(mounts[1].host_path).is_dir() and Path(mounts[2].host_path).is_dir()
    assert stat.S_IMODE(os.stat(mounts[1].host_path).st_mode) == 0o777


@pytest.mark.parametrize(
    ("mount", "message"),
    [
        ({"name": "nope", "mountPath": "/x"}, 'cannot find volume "nope" to mount into container "app"'),
        (
            {"name": "scratch", "mountPath": "/x", "subPath": "/abs"},
            "error SubPath `/abs` must not be an absolute path",
        ),
        (
            {"name": "scratch", "mountPath": "/x", "subPath": "a/../../b"},
            "unable to provision SubPath `a/../../b`",
        ),
        (
            {"name": "scratch", "mountPath": "/x", "subPathExpr": "$(NOPE)/$(EMPTY)"},
            "missing value for EMPTY, NOPE",
        ),
        (
            {"name": "scratch", "mountPath": "/x", "subPath": "out/x"},
            'failed to prepare subPath for volumeMount "scratch"',
        ),
        ({"name": "scratch"}, 'volumeMount "scratch" of container "app" has no mountPath'),
    ],
)
def test_mount_errors(prepared, tmp_path, mount, message):
    pv, paths = prepared
    os.symlink(tmp_path / "hostdata", Path(paths["scratch"]) / "out")  # a container planted a symlink
    with pytest.raises(ConfigError) as info:
        pv.mounts({"name": "app", "volumeMounts": [mount]}, env=[("EMPTY", "")])
    assert info.value.reason == CONFIG_ERROR
    assert info.value.message.startswith(message)
    assert not (tmp_path / "hostdata" / "x").exists()


# -- cleanup -------------------------------------------------------------------------------------------


def test_remove_pod_dir_leaves_host_paths_alone(tmp_path, store, prepared):
    host = tmp_path / "hostdata"
    (host / "keep").write_text("k")
    assert remove_pod_dir(tmp_path, UID) == []
    assert not (tmp_path / "pods" / UID).exists()
    assert (host / "keep").read_text() == "k"
    assert remove_pod_dir(tmp_path, UID) == []  # gone already: fine


@pytest.mark.parametrize("uid", ["", "..", "a/b", "../pods", "."])
def test_unsafe_uids_are_refused(tmp_path, store, uid):
    (tmp_path / "pods").mkdir()
    assert remove_pod_dir(tmp_path, uid) != []
    assert (tmp_path / "pods").is_dir()
    with pytest.raises(ConfigError, match="cannot name a directory"):
        PodVolumes(tmp_path, use_tmpfs=False).prepare(make_pod([], uid=uid), store)
