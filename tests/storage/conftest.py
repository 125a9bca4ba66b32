"""What every object-storage test module shares: a real S3-compatible server (moto's, its
own process on 127.0.0.1) with the module's ``BUCKET`` made, and an environment that never
points anywhere else."""
from __future__ import annotations

import pytest

pytest.importorskip("s3fs")
from s3_util import S3Server  # noqa: E402


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> S3Server:
    s3 = S3Server()
    try:
        s3.client().create_bucket(Bucket=request.module.BUCKET)
        yield s3
    finally:
        s3.stop()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """What ``--storage-options``/``--cache`` leave in this process's environment is undone
    after each test; the AWS environment never points anywhere."""
    for name in ("DATACONV_STORAGE_OPTIONS", "DATACONV_CACHE"):
        monkeypatch.setenv(name, "")
    monkeypatch.delenv("DATACONV_FETCH_AHEAD", raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
