"""A real S3-compatible server for the object-storage tests: moto's standalone server,
started as its own process on 127.0.0.1 (never patched in), and what the tests need to
fill a bucket and point dataconv at it."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

KEY, SECRET = "AKIDDATACONVTEST", "s3cr3t-dataconv-test-value"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    """moto_server on a free port; ``stop`` kills the process (a server that dies)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto server did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def options(self, **more: Any) -> str:
        """``--storage-options`` for this server (they travel to every worker)."""
        return json.dumps({"endpoint_url": self.endpoint, "key": KEY, "secret": SECRET, **more})

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=KEY,
                            aws_secret_access_key=SECRET, region_name="us-east-1")

    def require_auth(self, on: bool) -> None:
        """moto checks credentials from now on (``on``), or accepts any again."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset-auth", data=b"0" if on else b"inf",
                                         method="POST", headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request, timeout=5).close()


def upload_folder(client: Any, bucket: str, prefix: str, folder: str) -> None:
    """Every file under ``folder`` as an object under ``bucket/prefix``."""
    for here, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(here, name)
            client.upload_file(path, bucket, f"{prefix}/{os.path.relpath(path, folder)}")


def keys(client: Any, bucket: str, prefix: str) -> list[str]:
    """Every key under ``bucket/prefix/``."""
    found: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        found += [o["Key"] for o in page.get("Contents", [])]
    return sorted(found)
