"""Schemathesis hooks for scripts/schemathesis.sh.

Header values are generated from `{"type": "string"}` schemas and may hold
control or non-ASCII characters, which are not valid HTTP: the local
server's HTTP parser (like API Gateway in the cloud) refuses such a request
with a bare 400 before Leadpipe sees it. Only header values that HTTP allows
(visible ASCII, inner spaces) are sent, so that every answer checked is
Leadpipe's own.
"""

import schemathesis


def _http_value(value):
    if not isinstance(value, str):
        return value
    return "".join(c for c in value if 0x20 <= ord(c) < 0x7F).strip()


@schemathesis.hook
def map_headers(context, headers):
    if headers is None:
        return headers
    return {name: _http_value(value) for name, value in headers.items()}
