"""AWS plumbing shared by sturdydb's AWS plugins (IAM, Secrets Manager, federation).

- :mod:`sturdydb_aws.clients`: boto3 sessions and clients created once per configuration;
- :mod:`sturdydb_aws.cache`: an expiring, single-flight credential cache;
- :mod:`sturdydb_aws.properties`: ``aws_profile``, declared once for every AWS plugin;
- :mod:`sturdydb_aws.redaction`: masking filters for the debug logs of botocore, urllib3 and
  mysql-connector (each plugin names the records that carry its secrets);
- :mod:`sturdydb_aws.refusals`: the note and warning added when the database refuses a
  credential a plugin supplied.

It is a distribution of its own so that each AWS plugin depends on it rather than on another
plugin, and so that the core never depends on boto3.
"""

from __future__ import annotations

from sturdydb_aws.cache import CacheEntry, CredentialCache, TimeToLive
from sturdydb_aws.clients import aws_client, aws_session, clear_clients
from sturdydb_aws.properties import AWS_PROFILE_PROPERTY, AWS_PROPERTY_OWNER
from sturdydb_aws.refusals import explain_refusal

__all__ = [
    "AWS_PROFILE_PROPERTY",
    "AWS_PROPERTY_OWNER",
    "CacheEntry",
    "CredentialCache",
    "TimeToLive",
    "aws_client",
    "aws_session",
    "clear_clients",
    "explain_refusal",
]
