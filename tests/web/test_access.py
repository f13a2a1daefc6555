"""Access rules, route by route: login, CSRF and roles."""

from __future__ import annotations

import pytest

#: Every route of the panel: (method, rule as in app.url_map, a concrete path).
ROUTES = [
    ("GET", "/", "/"),
    ("GET", "/actions", "/actions"),
    ("POST", "/actions/grant", "/actions/grant"),
    ("POST", "/actions/release-slot", "/actions/release-slot"),
    ("POST", "/actions/release-all", "/actions/release-all"),
    ("POST", "/actions/visitor-in", "/actions/visitor-in"),
    ("POST", "/actions/visitor-out", "/actions/visitor-out"),
    ("POST", "/actions/stock", "/actions/stock"),
    ("POST", "/alerts/<int:alert_id>/ack", "/alerts/1/ack"),
    ("POST", "/alerts/ack-all", "/alerts/ack-all"),
    ("POST", "/notify/test", "/notify/test"),
    ("POST", "/logout", "/logout"),
    ("GET", "/api/status", "/api/status"),
    ("GET", "/api/people", "/api/people"),
    ("GET", "/api/events", "/api/events"),
    ("POST", "/api/grants", "/api/grants"),
    ("POST", "/api/slots/<int:number>/release", "/api/slots/1/release"),
    ("POST", "/api/slots/<int:number>/stock", "/api/slots/1/stock"),
    ("POST", "/api/release-all", "/api/release-all"),
    ("POST", "/api/alerts/<int:alert_id>/ack", "/api/alerts/1/ack"),
    ("GET", "/api/alerts", "/api/alerts"),
    ("POST", "/api/alerts/ack-all", "/api/alerts/ack-all"),
    ("GET", "/log", "/log"),
    ("GET", "/log/overrides", "/log/overrides"),
    ("GET", "/log/export.csv", "/log/export.csv"),
    ("GET", "/report", "/report"),
    ("GET", "/people", "/people"),
    ("POST", "/people", "/people"),
    ("POST", "/people/<int:person_id>/active", "/people/1/active"),
    ("GET", "/people/<int:person_id>/edit", "/people/1/edit"),
    ("POST", "/people/<int:person_id>/edit", "/people/1/edit"),
    ("GET", "/people/<int:person_id>/enrol", "/people/1/enrol"),
    ("GET", "/people/enrol/card", "/people/enrol/card"),
    ("POST", "/people/<int:person_id>/badges", "/people/1/badges"),
    ("GET", "/people/badges/<uid>/revoke", "/people/badges/A1A1A1A1/revoke"),
    ("POST", "/people/badges/<uid>/revoke", "/people/badges/A1A1A1A1/revoke"),
    ("GET", "/people/<int:person_id>", "/people/1"),
    ("GET", "/people/<int:person_id>/export.zip", "/people/1/export.zip"),
    ("POST", "/people/<int:person_id>/hold", "/people/1/hold"),
    ("GET", "/people/<int:person_id>/forget", "/people/1/forget"),
    ("POST", "/people/<int:person_id>/forget", "/people/1/forget"),
    ("GET", "/rota", "/rota"),
    ("POST", "/rota/import", "/rota/import"),
    ("POST", "/rota/shifts", "/rota/shifts"),
    ("POST", "/rota/shifts/<int:person_id>/break-now", "/rota/shifts/1/break-now"),
    ("POST", "/rota/shifts/<int:person_id>/extend", "/rota/shifts/1/extend"),
    ("POST", "/rota/shifts/<int:person_id>/end-now", "/rota/shifts/1/end-now"),
    ("GET", "/sim", "/sim"),
    ("GET", "/api/sim/state", "/api/sim/state"),
    ("GET", "/api/sim/outputs", "/api/sim/outputs"),
    ("POST", "/api/sim/badge", "/api/sim/badge"),
    ("POST", "/api/sim/slots/<int:number>", "/api/sim/slots/1"),
    ("POST", "/api/sim/clock", "/api/sim/clock"),
    ("GET", "/accounts", "/accounts"),
    ("POST", "/accounts/<int:account_id>/active", "/accounts/1/active"),
    ("POST", "/accounts/<int:account_id>/end-sessions", "/accounts/1/end-sessions"),
    ("POST", "/accounts/<int:account_id>/person", "/accounts/1/person"),
    ("POST", "/tokens/<int:token_id>/revoke", "/tokens/1/revoke"),
]
#: Routes only an admin may use (a manager gets 403 too).
ADMIN = [r for r in ROUTES if r[2].startswith(("/accounts", "/tokens"))]
#: Routes anybody may use without logging in.
PUBLIC = [
    ("GET", "/login", "/login"),
    ("POST", "/login", "/login"),
    ("GET", "/healthz", "/healthz"),
    ("GET", "/static/<path:filename>", "/static/panel.css"),
]
POSTS = [r for r in ROUTES if r[0] == "POST"]
#: Changes a viewer may make too.
ANY_ACCOUNT = {"/logout"}


def _ids(routes):
    return [f"{method} {path}" for method, _, path in routes]


def test_the_tables_list_every_route(app):
    served = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    listed = {(method, rule) for method, rule, _ in ROUTES + PUBLIC}
    assert served == listed, "a new route needs its access rule in tests/web/test_access.py"


@pytest.mark.parametrize(("method", "rule", "path"), ROUTES, ids=_ids(ROUTES))
def test_every_route_needs_a_login(client, method, rule, path):
    response = client.open(path, method=method)
    if path.startswith("/api/"):
        assert response.status_code == 401
        assert "error" in response.json
    else:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize(("method", "rule", "path"), PUBLIC, ids=_ids(PUBLIC))
def test_public_routes_need_no_login(client, method, rule, path):
    data = {"username": "nobody", "password": "x"} if method == "POST" else None
    with client.open(path, method=method, data=data) as response:
        status = response.status_code
    # The login post lacks its CSRF token, so 400; the point is that it is not a redirect.
    assert status == (400 if method == "POST" else 200)


def test_a_login_redirect_comes_back_to_the_page(client, auth):
    response = client.get("/actions")
    assert response.headers["Location"] == "/login?next=/actions"
    token = auth.csrf_token()
    response = client.post(
        "/login",
        data={
            "username": "manager",
            "password": "manager-password",
            "next": "/actions",
            "csrf_token": token,
        },
    )
    assert response.headers["Location"] == "/actions"


@pytest.mark.parametrize(("method", "rule", "path"), POSTS, ids=_ids(POSTS))
@pytest.mark.parametrize("token", [None, "not-the-token"], ids=["missing", "wrong"])
def test_a_change_without_the_csrf_token_is_refused(client, auth, method, rule, path, token):
    auth.login()
    headers = {"X-CSRFToken": token} if token else {}
    response = client.post(path, data={"csrf_token": token} if token else {}, headers=headers)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_the_login_form_needs_its_csrf_token(client):
    response = client.post("/login", data={"username": "manager", "password": "manager-password"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("method", "rule", "path"),
    [r for r in POSTS if r[2] not in ANY_ACCOUNT],
    ids=_ids([r for r in POSTS if r[2] not in ANY_ACCOUNT]),
)
def test_a_viewer_may_change_nothing(client, auth, method, rule, path):
    auth.login("viewer")
    response = auth.post(path)
    assert response.status_code == 403


@pytest.mark.parametrize("path", [p for m, _, p in POSTS if p.startswith("/api/")], ids=lambda p: p)
def test_a_viewer_token_may_change_nothing(client, token, path):
    response = client.post(path, json={}, headers=token("viewer"))
    assert response.status_code == 403
    assert "viewer" in response.json["error"]


def test_a_viewer_may_look_but_not_open_the_actions(client, auth):
    auth.login("viewer")
    assert client.get("/").status_code == 200
    assert client.get("/api/status").status_code == 200
    assert client.get("/actions").status_code == 403
    assert b'data-testid="nav-actions"' not in client.get("/").data


def test_a_bearer_token_needs_no_csrf_token(client, token):
    response = client.post("/api/alerts/999/ack", headers=token())
    assert response.status_code == 404
    assert response.json == {"error": "there is no alert 999"}


def test_an_unknown_token_is_refused(client):
    response = client.get("/api/status", headers={"Authorization": "Bearer lk_nonsense"})
    assert response.status_code == 401
    assert "unknown or revoked" in response.json["error"]


def test_a_bearer_header_overrides_the_session(client, auth):
    """A request with a bad token is not let in on a session cookie, nor spared CSRF."""
    auth.login()
    assert client.get("/api/status").status_code == 200
    response = client.get("/api/status", headers={"Authorization": "Bearer lk_nonsense"})
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "rule", "path"), ADMIN, ids=_ids(ADMIN))
@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_only_an_admin_manages_accounts_and_tokens(client, auth, method, rule, path, role):
    auth.login(role)
    response = auth.post(path) if method == "POST" else client.get(path)
    assert response.status_code == 403


def test_an_admin_may_act(client, auth):
    auth.login("admin")
    assert client.get("/actions").status_code == 200
    response = auth.post_json("/api/alerts/999/ack")
    assert response.status_code == 404
