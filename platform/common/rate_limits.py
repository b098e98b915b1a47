"""Rate limits of the public pages, counted in one place that every server process shares.

The public pages (receipt lookup, objections to a notice, the village comment
box) are limited per client address. The counts live in Django's cache alias
`rate_limits` (settings): Redis when REDIS_URL is set, as in every hosted
setup, so N workers behind the proxy allow what one allows, not N times it;
the embedded default (one process, no Redis) keeps them in local memory.

Counting is django-ratelimit's: one counter per (scope, address, window),
raised by an atomic increment in the store (Redis INCR), never read, changed
and written back, so concurrent requests cannot undercount (DRF's throttles
keep a list they read and write back whole, which races; architecture.md).

The limit of an address holds across counties: the key names the scope and
the address, not the county (a scanner that walks county hosts gets no more
tries). The address never reaches the store in the clear: the key is an HMAC
of it under the site's secret, hashed again by django-ratelimit with the
window. Nothing about a ballot is ever counted or cached here.

Logins are limited elsewhere, by django-axes in the county's database
(accounts.logins), which every worker shares already.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from django.conf import settings
from django_ratelimit.core import get_usage

from common.refusal import Refusal

KEY_DOMAIN = b"shuping/rate-limit/v1"
logger = logging.getLogger(__name__)


def client_address(request: Any) -> str:
    """The client's address as the login throttle reads it, never a header the client wrote.

    X-Forwarded-For is read only behind SHUPING_LOGIN_PROXY_COUNT reverse
    proxies, and then from the right: the hop the nearest proxy appended.
    """
    proxies = int(getattr(settings, "AXES_IPWARE_PROXY_COUNT", 0) or 0)
    if proxies:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return str(request.META.get("REMOTE_ADDR", ""))


def address_key(group: str, request: Any) -> str:
    """The counter's key for the request's address: an HMAC of it, never the address itself."""
    return hmac.new(settings.SECRET_KEY.encode(), KEY_DOMAIN + b"\x00" + client_address(request).encode(),
                    hashlib.sha256).hexdigest()


def over_limit(request: Any, *, scope: str, rate: str) -> bool:
    """Count this request against `rate` (e.g. "20/m", "5/h") for its address; True once past the limit.

    A store that does not answer (Redis down) refuses the request with 503
    rather than letting it through uncounted.
    """
    try:
        usage = get_usage(request, group=f"shuping.{scope}", key=address_key, rate=rate, increment=True)
    except Exception as error:  # the cache backend's own errors (redis.ConnectionError, timeouts)
        logger.warning("rate limit store unavailable (%s): %s", scope, type(error).__name__)
        usage = {"count": 0, "should_limit": True, "limit": 0, "time_left": -1, "failed": True}
    if usage is None:  # RATELIMIT_ENABLE = False
        return False
    if usage.get("failed") or (usage["limit"] == 0 and usage["count"] == 0):
        # django-ratelimit reports a store that failed as limit 0, count 0.
        raise Refusal("暂时无法受理，请稍后再试", "temporarily unavailable; try again shortly",
                      code="rate_limit_unavailable", http_status=503)
    return bool(usage["should_limit"])
