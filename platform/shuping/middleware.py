"""Tenant resolution by host name, with a clear page for unknown hosts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.template.loader import render_to_string
from django_tenants.middleware.main import TenantMainMiddleware


class CountyMiddleware(TenantMainMiddleware):
    """Resolve the county from the Host header; unknown hosts get a 404 page.

    django-tenants raises Http404 for a host it does not know, which would be
    rendered without any URLconf of ours; we answer with a page that says in
    Chinese and English which host is unknown and what to do.
    """

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        body = render_to_string("unknown_host.html", {"hostname": hostname})
        return HttpResponseNotFound(body)
