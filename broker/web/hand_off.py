"""The hand-off of the browser to the HM with our AuthnRequest."""

from __future__ import annotations

from flask import redirect, render_template
from werkzeug.wrappers import Response as BaseResponse

from saml.authn_request import OutgoingRequest


def hand_off(outgoing: OutgoingRequest) -> str | BaseResponse:
    """Send the browser to the HM: a redirect, or an auto-submitting form."""
    if outgoing.method == "GET":
        return redirect(outgoing.url, code=303)
    return render_template(
        "post_form.html",
        action=outgoing.url,
        fields=outgoing.fields,
        destination="hm",
    )
