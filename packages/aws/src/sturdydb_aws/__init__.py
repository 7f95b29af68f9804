"""AWS plumbing shared by sturdydb's AWS plugins (IAM, Secrets Manager, federation).

- :mod:`sturdydb_aws.clients`: boto3 sessions and clients created once per configuration;
- :mod:`sturdydb_aws.cache`: an expiring, single-flight credential cache.

It is a distribution of its own so that each AWS plugin depends on it rather than on another
plugin, and so that the core never depends on boto3.
"""

from __future__ import annotations

from sturdydb_aws.cache import CacheEntry, CredentialCache, TimeToLive
from sturdydb_aws.clients import aws_client, aws_session, clear_clients

__all__ = ["CacheEntry", "CredentialCache", "TimeToLive", "aws_client", "aws_session", "clear_clients"]
