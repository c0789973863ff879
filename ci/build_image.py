"""Build a container image offline, as a `docker save` tar that `ctr images import` accepts.

There is no registry here, so test images are made from Debian's busybox-static: one layer with
`/bin/busybox` and a symlink per applet, a minimal /etc, and an image config. Tar mtimes and owners are
fixed, so the same inputs give the same digests (images built twice share their layer).

    python3 ci/build_image.py OUT.tar NAME[:TAG] [ENTRYPOINT ...]
    python3 ci/build_image.py busybox.tar localhost/busybox:1
    python3 ci/build_image.py pause.tar localhost/pause:1 /bin/sleep inf
Use `localhost/...` names so containerd does not normalise them to docker.io.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile

BUSYBOX = "/bin/busybox"
DIRS = ("bin", "dev", "proc", "sys", "tmp", "etc", "root", "var", "run")
FILES = {
    "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": b"root:x:0:\nnogroup:x:65534:\n",
}


def _info(name: str, kind: bytes, size: int = 0, mode: int = 0o755, link: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size
    ti.mode = mode
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    ti.linkname = link
    return ti


def busybox_layer(busybox: str) -> bytes:
    applets = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for d in DIRS:
            tar.addfile(_info(d, tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o755))
        with open(busybox, "rb") as f:
            data = f.read()
        tar.addfile(_info("bin/busybox", tarfile.REGTYPE, len(data)), io.BytesIO(data))
        for applet in sorted(set(applets)):
            if applet != "busybox":
                tar.addfile(_info("bin/" + applet, tarfile.SYMTYPE, link="busybox", mode=0o777))
        for name, content in FILES.items():
            tar.addfile(_info(name, tarfile.REGTYPE, len(content), 0o644), io.BytesIO(content))
    return buf.getvalue()


def image_tar(layer: bytes, name: str, entrypoint: list[str]) -> bytes:
    layer_sha = hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], **({"Entrypoint": entrypoint} if entrypoint else {})},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_sha]},
        "history": [{"created_by": "kedge ci/build_image.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = json.dumps(
        [{"Config": config_name, "RepoTags": [name], "Layers": [layer_sha + "/layer.tar"]}]
    ).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(_info(layer_sha, tarfile.DIRTYPE))
        tar.addfile(_info(layer_sha + "/layer.tar", tarfile.REGTYPE, len(layer), 0o644), io.BytesIO(layer))
        tar.addfile(_info(config_name, tarfile.REGTYPE, len(config_bytes), 0o644), io.BytesIO(config_bytes))
        tar.addfile(_info("manifest.json", tarfile.REGTYPE, len(manifest), 0o644), io.BytesIO(manifest))
    return buf.getvalue()


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out, name, entrypoint = argv[0], argv[1], argv[2:]
    busybox = shutil.which("busybox") or BUSYBOX
    try:
        layer = busybox_layer(busybox)
    except (OSError, subprocess.CalledProcessError) as e:
        print("cannot read busybox at %s (install busybox-static): %s" % (busybox, e), file=sys.stderr)
        return 1
    with open(out, "wb") as f:
        f.write(image_tar(layer, name, entrypoint))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
