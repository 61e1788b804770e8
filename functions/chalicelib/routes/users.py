"""/users: sign-up, log-in, log-out and favorites (PRD 4.1)."""

from chalice.app import Blueprint, Response

from chalicelib.openapi import BIG_ID, operation
from chalicelib.web import bearer_token, current_user, ok, parse_body, parse_query
from kstock import loads
from kstock.errors import AlreadyExists, InvalidPassword, NotFound, TooManyRequests, Unauthorized
from kstock.logs import get_logger
from kstock.realtime import session
from kstock.schemas import CamelModel
from kstock.users import favorites, service
from kstock.validation import PageQuery, parse_id

bp = Blueprint(__name__)
log = get_logger("kstock.api.users")
TAGS = ["users"]


class SignupTopLevel(CamelModel):
    user_id: int


class LoginTopLevel(CamelModel):
    access_token: str


@bp.route("/users/signup", methods=["POST"])
@operation(
    "Create an account",
    tags=TAGS,
    body=service.SignupRequest,
    response=service.SignupResult,
    top_level=SignupTopLevel,
    status=201,
    errors=[InvalidPassword, AlreadyExists],
)
def signup() -> Response:
    """Email (unique, case-insensitive), username and a password of at least 8 characters with a
    letter, a digit and a special character (bcrypt-hashed)."""
    result = service.signup(parse_body(service.SignupRequest, bp.current_request))
    return ok(result.wire(), "회원가입이 완료되었습니다.", 201, userId=result.user_id)


@bp.route("/users/login", methods=["POST"])
@operation(
    "Log in: a Bearer access token",
    tags=TAGS,
    body=service.LoginRequest,
    response=service.LoginResult,
    top_level=LoginTopLevel,
    errors=[Unauthorized, TooManyRequests],
)
def login() -> Response:
    """An unknown email and a wrong password get the same 401, after the same work. Repeated
    failures of one account or one IP back off exponentially: 429 with ``Retry-After``."""
    request = bp.current_request
    source_ip = (request.context.get("identity") or {}).get("sourceIp")
    result = service.login(parse_body(service.LoginRequest, request), source_ip)
    return ok(result.wire(), "로그인 성공", accessToken=result.access_token)


@bp.route("/users/logout", methods=["POST"])
@operation("Log out: revoke the token", tags=TAGS, auth=True)
def logout() -> Response:
    """The presented token is refused from now until it would have expired, and the user's open
    WebSocket connections are closed."""
    claims = service.logout(bearer_token(bp.current_request))
    try:  # the revoked token's sockets must stop streaming (issue 17); the logout stands regardless
        session.close_user_connections(claims.user_id)
    except Exception:
        log.warning("could not close the user's WebSocket connections", exc_info=True)
    return ok(None, "로그아웃 되었습니다.")


@bp.route("/users/favorites", methods=["GET"])
@operation("My favorite companies", tags=TAGS, auth=True, query=PageQuery, response=list[favorites.Favorite])
def list_favorites() -> Response:
    """Newest first."""
    user = current_user(bp.current_request)
    page = parse_query(PageQuery, bp.current_request)
    found = favorites.list_favorites(user.user_id, page)
    return ok([f.wire() for f in found], "즐겨찾기 목록 조회를 성공하였습니다.")


@bp.route("/users/favorites", methods=["POST"])
@operation(
    "Add a favorite company",
    tags=TAGS,
    auth=True,
    body=favorites.FavoriteRequest,
    response=favorites.Favorite,
    status=201,
    errors=[NotFound, AlreadyExists],
)
def add_favorite() -> Response:
    """A company kstock holds little about gets its daily history, filings, financials and news
    queued for loading (``GET /companies/{id}/data-status`` follows them)."""
    user = current_user(bp.current_request)
    favorite = favorites.add(user.user_id, parse_body(favorites.FavoriteRequest, bp.current_request))
    loads.queue_missing_quietly(favorite.company_id)
    return ok(favorite.wire(), "즐겨찾기에 추가하였습니다.", 201)


@bp.route("/users/favorites/{favoriteId}", methods=["DELETE"])
@operation("Remove a favorite", tags=TAGS, auth=True, path={"favoriteId": BIG_ID}, errors=[NotFound])
def delete_favorite(favoriteId: str) -> Response:
    """Another user's favorite is answered like a missing one (404)."""
    user = current_user(bp.current_request)
    favorites.remove(user.user_id, parse_id(favoriteId, "favoriteId", maximum=BIG_ID.schema["maximum"]))
    return ok(None, "즐겨찾기에서 삭제하였습니다.")
