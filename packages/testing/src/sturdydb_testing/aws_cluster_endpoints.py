"""Aurora custom endpoints for the AWS emulator: moto (5.x) does not implement them.

:class:`ClusterEndpoints` answers the four RDS actions ``CreateDBClusterEndpoint``,
``DescribeDBClusterEndpoints``, ``ModifyDBClusterEndpoint`` and ``DeleteDBClusterEndpoint``
in front of moto (:class:`~sturdydb_testing.aws.MotoServer` routes them here before moto sees
them), speaking the RDS *query* protocol as AWS does: a form-encoded POST in, the XML document
of the service's published model out (``<Action>Response``/``<Action>Result``, lists as
``<member>`` and ``<DBClusterEndpointList>`` elements), and ``ErrorResponse`` documents with
AWS's fault codes (``DBClusterNotFoundFault``, ``DBClusterEndpointNotFoundFault``,
``DBClusterEndpointAlreadyExistsFault``, ``DBInstanceNotFound``: the codes and HTTP statuses of
the published model). botocore parses the
answers with the same model it uses against AWS.

What it does not emulate: a cluster must be made known with :meth:`register_db_cluster` (its
DNS domain and instance names; moto's own RDS clusters are not consulted), endpoints become
``available`` at once, tags, pagination and the endpoint's automatic membership changes are
ignored. The network side of an endpoint is the cluster's
(:meth:`~sturdydb_testing.cluster.Cluster.add_custom_endpoint`).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

__all__ = ["ACTIONS", "ClusterEndpoints"]

ACTIONS = frozenset({"CreateDBClusterEndpoint", "DescribeDBClusterEndpoints", "ModifyDBClusterEndpoint",
                     "DeleteDBClusterEndpoint"})
_NS = "http://rds.amazonaws.com/doc/2014-10-31/"
#: The HTTP status of each fault as the service model declares it (400 for the others).
_STATUS = {"DBClusterNotFoundFault": "404 Not Found", "DBInstanceNotFound": "404 Not Found"}


class _Fault(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _Endpoint:
    identifier: str
    cluster: str
    address: str
    custom_type: str
    static: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    resource_id: str = field(default_factory=lambda: "cluster-endpoint-" + uuid.uuid4().hex[:20])


class ClusterEndpoints:
    """The emulated custom endpoints of the registered clusters."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._lock = threading.Lock()
        self._clusters: dict[str, tuple[str, list[str]]] = {}
        self._endpoints: dict[str, _Endpoint] = {}

    def register_db_cluster(self, identifier: str, domain: str, instances: list[str]) -> None:
        """Make a cluster known: ``domain`` as in ``x.cluster-custom-<domain>``, its instance ids."""
        with self._lock:
            self._clusters[identifier.lower()] = (domain, list(instances))

    def reset(self) -> None:
        with self._lock:
            self._clusters.clear()
            self._endpoints.clear()

    # -- WSGI --------------------------------------------------------------------
    def handle(self, action: str, form: dict[str, list[str]], start_response: Callable[..., Any]) -> list[bytes]:
        """Answer one request of :data:`ACTIONS` (``form``: the parsed request body)."""
        request_id = str(uuid.uuid4())
        try:
            with self._lock:
                body = self._dispatch(action, form)
            document = (f'<{action}Response xmlns="{_NS}"><{action}Result>{body}</{action}Result>'
                        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
                        f"</{action}Response>")
            status = "200 OK"
        except _Fault as fault:
            document = (f'<ErrorResponse xmlns="{_NS}"><Error><Type>Sender</Type><Code>{fault.code}</Code>'
                        f"<Message>{escape(str(fault))}</Message></Error><RequestId>{request_id}</RequestId>"
                        "</ErrorResponse>")
            status = _STATUS.get(fault.code, "400 Bad Request")
        data = document.encode()
        start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(data))),
                                ("x-amzn-RequestId", request_id)])
        return [data]

    @staticmethod
    def parse(body: bytes) -> dict[str, list[str]]:
        return parse_qs(body.decode(), keep_blank_values=True)

    def _dispatch(self, action: str, form: dict[str, list[str]]) -> str:
        if action == "DescribeDBClusterEndpoints":
            return self._describe(form)
        identifier = _one(form, "DBClusterEndpointIdentifier").lower()
        if action == "CreateDBClusterEndpoint":
            return self._create(identifier, form)
        found = self._endpoints.get(identifier)
        if found is None:
            raise _Fault("DBClusterEndpointNotFoundFault", f"DBClusterEndpoint {identifier} not found.")
        if action == "DeleteDBClusterEndpoint":
            del self._endpoints[identifier]
            return self._xml(found, status="deleting")
        self._set_members(found, form)
        if form.get("EndpointType"):
            found.custom_type = _one(form, "EndpointType").upper()
        return self._xml(found)

    def _create(self, identifier: str, form: dict[str, list[str]]) -> str:
        cluster = _one(form, "DBClusterIdentifier").lower()
        if cluster not in self._clusters:
            raise _Fault("DBClusterNotFoundFault", f"DBCluster {cluster} not found.")
        if identifier in self._endpoints:
            raise _Fault("DBClusterEndpointAlreadyExistsFault", f"DBClusterEndpoint {identifier} already exists.")
        domain = self._clusters[cluster][0]
        endpoint = _Endpoint(identifier, cluster, f"{identifier}.cluster-custom-{domain}",
                             _one(form, "EndpointType").upper())
        self._set_members(endpoint, form)
        self._endpoints[identifier] = endpoint
        return self._xml(endpoint)

    def _set_members(self, endpoint: _Endpoint, form: dict[str, list[str]]) -> None:
        instances = self._clusters[endpoint.cluster][1]
        for key, target in (("StaticMembers", endpoint.static), ("ExcludedMembers", endpoint.excluded)):
            if not any(k.startswith(key + ".") or k == key for k in form):
                continue
            given = _members(form, key)
            unknown = [m for m in given if m not in instances]
            if unknown:
                raise _Fault("DBInstanceNotFound", f"DBInstance {unknown[0]} not found.")
            target[:] = given

    def _describe(self, form: dict[str, list[str]]) -> str:
        wanted = list(self._endpoints.values())
        if form.get("DBClusterIdentifier"):
            cluster = _one(form, "DBClusterIdentifier").lower()
            if cluster not in self._clusters:
                raise _Fault("DBClusterNotFoundFault", f"DBCluster {cluster} not found.")
            wanted = [e for e in wanted if e.cluster == cluster]
        if form.get("DBClusterEndpointIdentifier"):
            identifier = _one(form, "DBClusterEndpointIdentifier").lower()
            wanted = [e for e in wanted if e.identifier == identifier]
        for name, values in _filters(form).items():
            if name == "db-cluster-endpoint-type":
                # Only custom endpoints are emulated; the cluster's own reader/writer are not listed.
                wanted = [e for e in wanted if "custom" in values]
            elif name == "db-cluster-endpoint-custom-type":
                wanted = [e for e in wanted if e.custom_type.lower() in values]
            elif name == "db-cluster-endpoint-id":
                wanted = [e for e in wanted if e.identifier in values]
        items = "".join(f"<DBClusterEndpointList>{self._fields(e)}</DBClusterEndpointList>" for e in wanted)
        return f"<DBClusterEndpoints>{items}</DBClusterEndpoints>"

    def _xml(self, endpoint: _Endpoint, status: str = "available") -> str:
        return self._fields(endpoint, status)

    def _fields(self, e: _Endpoint, status: str = "available") -> str:
        def members(values: list[str]) -> str:
            return "".join(f"<member>{escape(v)}</member>" for v in values)

        arn = f"arn:aws:rds:{self.region}:123456789012:cluster-endpoint:{e.identifier}"
        return (f"<DBClusterEndpointIdentifier>{escape(e.identifier)}</DBClusterEndpointIdentifier>"
                f"<DBClusterIdentifier>{escape(e.cluster)}</DBClusterIdentifier>"
                f"<DBClusterEndpointResourceIdentifier>{e.resource_id}</DBClusterEndpointResourceIdentifier>"
                f"<Endpoint>{escape(e.address)}</Endpoint><Status>{status}</Status>"
                f"<EndpointType>CUSTOM</EndpointType><CustomEndpointType>{e.custom_type}</CustomEndpointType>"
                f"<StaticMembers>{members(e.static)}</StaticMembers>"
                f"<ExcludedMembers>{members(e.excluded)}</ExcludedMembers>"
                f"<DBClusterEndpointArn>{arn}</DBClusterEndpointArn>")


def _one(form: dict[str, list[str]], key: str) -> str:
    values = form.get(key)
    if not values:
        raise _Fault("MissingParameter", f"The request must contain the parameter {key}.")
    return values[0]


def _members(form: dict[str, list[str]], key: str) -> list[str]:
    """``Key.member.N`` values in N order (the query protocol's list encoding)."""
    numbered = []
    for name, values in form.items():
        parts = name.split(".")
        if parts[0] == key and len(parts) == 3 and parts[2].isdigit():
            numbered.append((int(parts[2]), values[0]))
    return [v for _, v in sorted(numbered) if v]


def _filters(form: dict[str, list[str]]) -> dict[str, set[str]]:
    """``Filters.Filter.N.Name`` / ``Filters.Filter.N.Values.Value.M`` as {name: values}."""
    names: dict[str, str] = {}
    values: dict[str, set[str]] = {}
    for key, given in form.items():
        parts = key.split(".")
        if len(parts) >= 4 and parts[:2] == ["Filters", "Filter"]:
            index = parts[2]
            if parts[3] == "Name":
                names[index] = given[0]
            elif parts[3] == "Values":
                values.setdefault(index, set()).add(given[0].lower())
    return {name: values.get(index, set()) for index, name in names.items()}
