"""The ``iam`` plugin's properties: data only, read by the catalog without importing the plugin."""

from __future__ import annotations

from sturdydb import PropertySpec
from sturdydb_aws.properties import AWS_PROFILE_PROPERTY

__all__ = ["PROPERTIES"]

PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec("iam_host", str, None,
                 "Host name the token is signed for. Unset means the host being connected to; "
                 "set it when connecting through an IP address or a custom DNS name.",
                 owner="iam"),
    PropertySpec("iam_default_port", int, None,
                 "Port the token is signed for. Unset means the connection's port, else the "
                 "driver's default (5432/3306).", owner="iam", minimum=1),
    PropertySpec("iam_region", str, None,
                 "AWS region of the database. Unset means parsed from the RDS host name; for an "
                 "Aurora Global Database writer endpoint, the region of its writer cluster from "
                 "DescribeGlobalClusters (cached for a minute); required for IP addresses and "
                 "custom names.", owner="iam"),
    PropertySpec("iam_expiration", int, 900,
                 "How long a token is reused, in seconds (at most 900, the token's validity). "
                 "A safety margin of 10% (at most 30 s) is taken off so that a token is never "
                 "presented as it expires.", owner="iam", unit="s", minimum=1),
    PropertySpec("iam_require_tls", bool, True,
                 "Refuse to send a token over an unencrypted connection: psycopg gets "
                 "sslmode=require unless a stronger mode is set, and sslmode disable/allow/prefer "
                 "or mysql-connector's ssl_disabled=true are rejected. Set false only for a "
                 "trusted local test front.", owner="iam"),
    PropertySpec("iam_ca_bundle", str, None,
                 "Path of a PEM file with the certificate authorities of the database's TLS "
                 "certificate (for RDS and Aurora: AWS's global-bundle.pem). With it the server's "
                 "certificate and host name are verified before a token is sent: psycopg gets "
                 "sslrootcert=<path> and sslmode=verify-full (an unset or require sslmode is raised; "
                 "an explicit verify-ca is kept), mysql-connector ssl_ca=<path>, ssl_verify_cert=true "
                 "and ssl_verify_identity=true (unless set). Whenever a token goes out without "
                 "certificate and host name verification, a warning is logged once per host.",
                 owner="iam"),
    AWS_PROFILE_PROPERTY,
)
