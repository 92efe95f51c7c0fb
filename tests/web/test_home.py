"""The broker's `/`: a broker without the demo portal says what it is, in Dutch and English."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_the_front_door_says_what_this_is(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>eh-broker</h1>" in html
    assert "An eHerkenning broker" in html and "Een broker voor eHerkenning" in html
    assert '<section lang="nl"' in html and '<section lang="en"' in html
    discovery = "http://localhost/.well-known/openid-configuration"
    assert f'<a href="{discovery}">{discovery}</a>' in html
    assert client.get(discovery.removeprefix("http://localhost")).status_code == 200
