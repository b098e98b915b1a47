"""The county of a request, from its host name, without a database round trip per request.

`CachedCountyMiddleware` does what django-tenants' TenantMainMiddleware does,
plus a clear page for unknown hosts, with two differences:

- the host is looked up in `tenants.hosts` (a per-process cache; see there for
  when a change of host names is seen), not in the Domain table each time;
- the connection is switched only when the county differs from the one it is
  set to. django-tenants switches to public and back on every request, which
  forgets the connection's search_path and costs a `SET search_path` on the
  next query; a thread serving one county keeps it set.

The search_path itself is still django-tenants' business: it is issued again
whenever the connection was switched, reconnected, or rolled back.
"""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.template.loader import render_to_string
from django_tenants.middleware.main import TenantMainMiddleware

from tenants import hosts


class CachedCountyMiddleware(TenantMainMiddleware):
    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        """Unknown hosts get a page that says in Chinese and English which host is unknown and what to do.

        (django-tenants raises Http404, which would be rendered without any URLconf of ours.)
        """
        body = render_to_string("unknown_host.html", {"hostname": hostname})
        return HttpResponseNotFound(body)

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return HttpResponseNotFound()
        county = hosts.county_for_host(hostname)
        if county is None:
            connection.set_schema_to_public()  # type: ignore[attr-defined]
            return self.no_tenant_found(request, hostname)
        request.tenant = county  # type: ignore[attr-defined]
        same_schema = (
            getattr(connection, "schema_name", None) == county.schema_name
            and getattr(connection, "include_public_schema", True)
        )
        if same_schema:
            # Same schema, same search_path: keep the connection as it is.
            connection.tenant = county  # type: ignore[attr-defined]
        else:
            connection.set_tenant(county)  # type: ignore[attr-defined]
        self.setup_url_routing(request)
        return None
