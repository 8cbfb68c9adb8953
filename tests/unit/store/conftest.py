"""The store tests' S3 fixtures (tests/support/s3.py): ``moto``, ``proxy``, ``s3``."""

from tests.support.s3 import moto, proxy, s3

__all__ = ["moto", "proxy", "s3"]
