"""Objects of one backup (a bucket and a prefix) through boto3.

Credentials, region and endpoint come the way boto3 users expect unless the settings name them:
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, ``AWS_PROFILE`` and the
shared config files, ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``),
instance and container roles. botocore retries throttling and transient failures ("standard"
mode); what is left is raised as :class:`S3StorageError` naming the object.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Literal

import boto3
import botocore.config
import botocore.exceptions
from boto3.s3.transfer import TransferConfig

from mirror.config.backup import S3Settings
from mirror.config.librdkafka import hide_url_credentials

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

_DELETE_BATCH = 1000
_MAX_ATTEMPTS = 8
_RETRIABLE_CODES = frozenset(
    {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling", "503", "500"}
)


class S3StorageError(Exception):
    """An S3 call that failed after botocore's retries."""

    def __init__(self, context: str, code: str, reason: str, retriable: bool) -> None:
        super().__init__(context, code, reason)
        self.context = context
        self.code = code
        self.reason = reason
        self.retriable = retriable

    def __str__(self) -> str:
        return f"{self.context}: {self.code}: {self.reason}"


def _failure(exc: Exception, context: str) -> S3StorageError:
    """The error to raise and log: botocore's messages quote the endpoint URL, userinfo included, so
    both it and ``exc`` (its cause, in every traceback) have that hidden."""
    exc.args = tuple(hide_url_credentials(arg) if isinstance(arg, str) else arg for arg in exc.args)
    failure = _describe(exc, context)
    failure.reason = hide_url_credentials(failure.reason)
    failure.args = (failure.context, failure.code, failure.reason)
    return failure


def _describe(exc: Exception, context: str) -> S3StorageError:
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "ClientError"))
        return S3StorageError(context, code, str(error.get("Message", exc)), code in _RETRIABLE_CODES)
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return S3StorageError(
            context, "NoCredentials", "no AWS credentials found (AWS_* variables, profile or config)", False
        )
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return S3StorageError(context, type(exc).__name__, str(exc), True)
    return S3StorageError(context, type(exc).__name__, str(exc), False)


def _stored_size(response: GetObjectOutputTypeDef) -> int:
    """The whole object's size: Content-Range's total for a ranged GET, else the body's length."""
    content_range = response.get("ContentRange", "")
    _, slash, total = content_range.rpartition("/")
    return int(total) if slash and total.isdigit() else int(response.get("ContentLength", -1))


def _size_mismatch(where: str, found: str, size: int) -> S3StorageError:
    return S3StorageError(where, "SizeMismatch", f"{found}, the manifest says {size}", False)


def make_client(settings: S3Settings) -> S3Client:
    session = boto3.session.Session(
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        aws_session_token=settings.session_token,
        region_name=settings.region,
        profile_name=settings.profile,
    )
    addressing: Literal["auto", "path", "virtual"] = (
        "auto" if settings.path_style is None else ("path" if settings.path_style else "virtual")
    )
    config = botocore.config.Config(
        retries={"max_attempts": _MAX_ATTEMPTS, "mode": "standard"},
        s3={"addressing_style": addressing},
        # Integrity is ours (sha256 in the manifest, checked on restore and verify); per-request
        # CRCs would only cost CPU, which the consumer shares.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        # Multipart transfers open one connection per concurrent part, per concurrent upload.
        max_pool_connections=max(10, settings.upload_concurrency * 10),
    )
    # Without any region boto3 refuses to sign; S3-compatible servers mostly ignore it anyway.
    region: str | None = settings.region or session.region_name or "us-east-1"
    return session.client("s3", endpoint_url=settings.endpoint, region_name=region, config=config)


class ObjectStore:
    """Reads and writes objects named relative to the backup's prefix."""

    def __init__(self, settings: S3Settings, client: S3Client | None = None) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = settings.prefix
        self._client = client or make_client(settings)
        self._transfer = TransferConfig(
            multipart_threshold=settings.part_size,
            multipart_chunksize=settings.part_size,
            max_concurrency=settings.upload_concurrency,
            use_threads=True,
        )

    def url(self, name: str = "") -> str:
        return f"s3://{self.bucket}/{self.prefix}{name}"

    def check_bucket(self) -> None:
        """Fail early, naming the bucket, when it is missing or not ours to use."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise _failure(exc, f"bucket {self.bucket}") from exc

    def get(self, name: str, size: int | None = None) -> bytes:
        """A whole object; large ones arrive in parallel ranged parts.

        With ``size`` (what a manifest says the object holds), an object of any other size is
        refused as ``SizeMismatch`` and no byte past ``size`` is requested or read: a manifest is
        not trusted to describe the object, nor the object to be what the manifest described.
        """
        if size is not None:
            return self._get_exactly(name, size)
        out = io.BytesIO()
        try:
            self._client.download_fileobj(self.bucket, self.prefix + name, out, Config=self._transfer)
        except Exception as exc:
            raise _failure(exc, self.url(name)) from exc
        return out.getvalue()

    def _get_exactly(self, name: str, size: int) -> bytes:
        if size < 1:
            raise S3StorageError(self.url(name), "SizeMismatch", f"{size} is not an object size", False)
        key = self.prefix + name
        part = self.settings.part_size
        try:
            first = self._client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes=0-{min(size, part) - 1}"
            )
            stored = _stored_size(first)
            if stored != size:
                first["Body"].close()
                raise _size_mismatch(self.url(name), f"the object is {stored} bytes", size)
            etag = first.get("ETag", "")
            parts = [first["Body"].read(min(size, part))]
            ranges = [(start, min(start + part, size)) for start in range(part, size, part)]

            def read_range(bounds: tuple[int, int]) -> bytes:
                start, end = bounds
                # IfMatch: every part comes from the object whose size was just checked.
                response = self._client.get_object(
                    Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}", IfMatch=etag
                )
                return response["Body"].read(end - start)

            if ranges:
                with ThreadPoolExecutor(self.settings.upload_concurrency) as pool:
                    parts += pool.map(read_range, ranges)
        except S3StorageError:
            raise
        except Exception as exc:
            raise _failure(exc, self.url(name)) from exc
        data = b"".join(parts)
        if len(data) != size:
            raise _size_mismatch(self.url(name), f"{len(data)} bytes arrived", size)
        return data

    def get_if_exists(self, name: str) -> bytes | None:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self.prefix + name)
            return response["Body"].read()
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise _failure(exc, self.url(name)) from exc
        except Exception as exc:
            raise _failure(exc, self.url(name)) from exc

    def put(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store ``data``; above the part size as a multipart upload of parallel parts."""
        try:
            self._client.upload_fileobj(
                io.BytesIO(data),
                self.bucket,
                self.prefix + name,
                ExtraArgs={"ContentType": content_type},
                Config=self._transfer,
            )
        except Exception as exc:
            raise _failure(exc, self.url(name)) from exc

    def list_objects(self, under: str = "") -> Iterator[tuple[str, int]]:
        """(name, size) of every object whose name starts with ``under``, in key order."""
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + under):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix) :], int(item.get("Size", 0))
        except Exception as exc:
            raise _failure(exc, self.url(under)) from exc

    def list_dirs(self, under: str) -> list[str]:
        """Names of the "directories" directly below ``under`` (which ends with ``/``)."""
        paginator = self._client.get_paginator("list_objects_v2")
        found: list[str] = []
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + under, Delimiter="/"):
                for item in page.get("CommonPrefixes", []):
                    found.append(item["Prefix"][len(self.prefix + under) :].rstrip("/"))
        except Exception as exc:
            raise _failure(exc, self.url(under)) from exc
        return found

    def delete(self, names: Iterable[str]) -> int:
        """Delete objects (missing ones count as deleted); returns how many were asked for."""
        batch: list[str] = []
        count = 0
        for name in names:
            batch.append(name)
            if len(batch) == _DELETE_BATCH:
                count += self._delete_batch(batch)
                batch = []
        if batch:
            count += self._delete_batch(batch)
        return count

    def _delete_batch(self, names: list[str]) -> int:
        try:
            response = self._client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self.prefix + name} for name in names], "Quiet": True},
            )
        except Exception as exc:
            raise _failure(exc, self.url(names[0])) from exc
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise S3StorageError(
                f"s3://{self.bucket}/{first.get('Key', '')}",
                str(first.get("Code", "DeleteFailed")),
                str(first.get("Message", "")),
                False,
            )
        return len(names)
