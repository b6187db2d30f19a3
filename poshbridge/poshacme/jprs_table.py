"""The CA's error table: the JPRS manual §6.2 rows (English and Japanese), and the RFC 8555 §6.7 types
the table does not list. Data only: :mod:`poshbridge.poshacme.problems` classifies with it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableRow:
    """One row of the JPRS manual's §6.2 table. ``[%s]``/``[%d]`` stand for the concrete value."""

    type: str
    status: int
    message: str
    condition_en: str
    condition_ja: str


# The JPRS manual v1.2 §6.2, in the manual's order. Messages are verbatim (including "term of service"
# and the space before the colon in the ``connection`` message).
JPRS_TABLE: tuple[TableRow, ...] = (
    TableRow(
        "accountDoesNotExist",
        400,
        "The request specified an account that does not exist",
        "The specified account does not exist",
        "指定されたアカウントが存在しない場合",
    ),
    TableRow(
        "alreadyRevoked",
        400,
        "The request specified a certificate to be revoked that has already been revoked: [%s]",
        "The certificate to be revoked is already revoked",
        "失効対象の証明書が既に失効されている場合",
    ),
    TableRow(
        "badCSR",
        400,
        "The CSR is unacceptable",
        "The CSR cannot be accepted (e.g. key too short)",
        "CSR が受け付けられない場合(鍵長が短すぎるなど)",
    ),
    TableRow(
        "badNonce",
        400,
        "The client sent an unacceptable anti-replay nonce",
        "An unacceptable nonce was received",
        "受理不能なノンスを受信した場合",
    ),
    TableRow(
        "badPublicKey",
        400,
        "The JWS was signed by a public key the server does not support",
        "There is a problem with the account public key",
        "アカウント公開鍵の情報に問題がある場合",
    ),
    TableRow(
        "badRevocationReason",
        400,
        "The revocation reason provided is not allowed by the server: [%s]",
        "The submitted revocation reason is not allowed by the server",
        "送信された失効理由がサーバー側で許可されていない場合",
    ),
    TableRow(
        "badSignatureAlgorithm",
        400,
        "The JWS was signed with an algorithm the server does not support: [%s]",
        "The JWS is signed with an algorithm the server does not support",
        "サーバーがサポートしないアルゴリズムで JWS が署名されている場合",
    ),
    TableRow(
        "caa",
        403,
        "CAA records forbid the CA from issuing a certificate",
        "CAA records do not permit issuance",
        "CAA レコードにより証明書の発行が許可されていない場合",
    ),
    TableRow(
        "connection",
        400,
        "The server could not connect to validation target : [%s]",
        "The server being validated for the FQDN cannot be reached",
        "FQDN の審査対象のサーバーに接続できない場合",
    ),
    TableRow(
        "externalAccountRequired",
        400,
        "The request must include a value for the externalAccountBinding field",
        "The request has no externalAccountBinding (*) — "
        "(*) the credentials (MAC key identifier and MAC key)",
        "リクエストに externalAccountBinding(*)が存在しない場合 (*)認証情報(MAC 鍵識別子・MAC 鍵)",
    ),
    TableRow(
        "invalidContact",
        400,
        "A contact URL for an account was invalid: [%s]",
        "The contact URL format is invalid",
        "コンタクトの URL の形式が不正である場合",
    ),
    TableRow(
        "malformed",
        400,
        "The request information is invalid",
        "Invalid request (required-field checks, format checks, etc.)",
        "必須項目チェックや形式チェックなどのリクエスト不正である場合",
    ),
    TableRow(
        "malformed",
        400,
        "Unable to create account",
        "The EAB account is invalid",
        "EAB アカウントが不正である場合",
    ),
    TableRow(
        "malformed",
        400,
        "The contact information is invalid:",
        "7 or more contact e-mail addresses, or none; or a contact e-mail address given more than once",
        "・コンタクトメールアドレスが7件以上設定されている、もしくは、0件である場合"
        " ・コンタクトメールアドレスが重複して設定されている場合",
    ),
    TableRow(
        "malformed",
        400,
        "Please agree to the term of service.",
        "The terms of service were not agreed to",
        "利用規約に同意していない場合",
    ),
    TableRow(
        "malformed",
        400,
        "The FQDN is invalid: [%s]",
        "The FQDN cannot be issued",
        "発行できない FQDN である場合",
    ),
    TableRow(
        "malformed",
        400,
        "Validity period of application has been expired",
        "The order object has expired",
        "オーダーオブジェクトの有効期限切れの場合",
    ),
    TableRow(
        "malformed",
        400,
        "Unable to accept order",
        "The order object's status is invalid",
        "オーダーオブジェクトのステータスが不正である場合",
    ),
    TableRow(
        "malformed",
        400,
        "Validity period of application has been expired",
        "The authorization object has expired",
        "認可オブジェクトの有効期限切れである場合",
    ),
    TableRow(
        "malformed",
        400,
        "Unable to accept order",
        "The authorization object's status is invalid",
        "認可オブジェクトのステータスが不正である場合",
    ),
    TableRow(
        "malformed",
        400,
        "The certificate does not exist: [%s]",
        "The certificate to be revoked does not exist",
        "失効対象の証明書が存在しない場合",
    ),
    TableRow(
        "malformed",
        405,
        "The HTTP method is invalid: [%s]",
        "Invalid request: HTTP method not allowed",
        "リクエスト不正：許容されていない HTTP Method である場合",
    ),
    TableRow(
        "malformed",
        415,
        "The content-type is invalid: [%s]",
        "Invalid request: Content-Type not allowed",
        "リクエスト不正：許容されていない ContentType である場合",
    ),
    TableRow(
        "orderNotReady",
        403,
        "The request attempted to finalize an order that is not ready to be finalized",
        "finalize was sent for an order that is not ready to be finalized",
        "finalize の準備ができていない order に対して finalize した場合",
    ),
    TableRow(
        "rejectedIdentifier",
        400,
        "The server will not issue certificates for the identifier",
        "The server will not issue a certificate for the identifier",
        "対象の識別子に対してサーバーが証明書を発行しない場合",
    ),
    TableRow(
        "serverInternal",
        500,
        "The server experienced an internal error",
        "An internal error occurred on the server",
        "サーバーで内部エラーが発生した場合",
    ),
    TableRow(
        "unauthorized",
        401,
        "The client lacks sufficient authorization",
        "The ACME account's status is invalid",
        "ACME アカウントのステータスが不正である場合",
    ),
    TableRow(
        "unsupportedContact",
        400,
        "A contact URL for an account used an unsupported protocol scheme: [%s]",
        "The contact URL uses an unsupported scheme",
        "コンタクト URL がサポートしないスキームである場合",
    ),
    TableRow(
        "unsupportedIdentifier",
        400,
        "An identifier is of an unsupported type",
        "The identifier is not supported",
        "識別子がサポートされていない場合",
    ),
)

# RFC 8555 §6.7 types that are not in the JPRS table (other CAs, Pebble, or not listed by JPRS).
# Conditions are poshbridge's wording, not the CA's.
RFC8555_EXTRA: dict[str, tuple[str, str]] = {
    "rateLimited": ("The request exceeds a rate limit", "レート制限を超えた場合"),
    "incorrectResponse": (
        "The response received did not match the challenge's requirements",
        "チャレンジの応答が要件を満たさない場合",
    ),
    "dns": (
        "There was a problem with a DNS query during identifier validation",
        "検証中の DNS 問い合わせに問題があった場合",
    ),
    "tls": ("The server received a TLS error during validation", "検証中に TLS エラーが発生した場合"),
    "userActionRequired": (
        'Visit the "instance" URL and take the actions specified there',
        "利用者の対応が必要な場合",
    ),
    "compound": (
        "Specific error conditions are indicated in the subproblems",
        "サブプロブレムに個別のエラーがある場合",
    ),
}
