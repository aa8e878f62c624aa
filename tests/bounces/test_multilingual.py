"""The parser's languages (EN, DE, FR, ES, PT, IT, NL, JA, KO, ZH; reasons also in RU, PL,
TR): a bounce's reason read from each language's wording, and out-of-office replies told
from replies in each."""

from __future__ import annotations

import pytest

from bounces.classify import classify_message
from bounces.parsing import parse_bounce

UNKNOWN = {
    "en": "The recipient address does not exist.",
    "de": "Der Empfänger ist unbekannt.",
    "fr": "L'adresse du destinataire n'existe pas.",
    "es": "El usuario no existe en este servidor.",
    "pt": "O endereço de e-mail não existe.",
    "it": "L'indirizzo di posta non esiste.",
    "nl": "De ontvanger bestaat niet.",
    "ja": "指定されたユーザーは存在しません。",
    "ko": "수신자를 찾을 수 없습니다.",
    "zh": "收件人不存在。",
    "ru": "Пользователь не найден.",
    "pl": "Adres odbiorcy nie istnieje.",
    "tr": "Alıcı adresi bulunamadı.",
}
FULL = {
    "en": "The mailbox is full.",
    "de": "Das Postfach ist voll.",
    "fr": "La boîte aux lettres est pleine.",
    "es": "El buzón está lleno.",
    "pt": "A caixa postal está cheia.",
    "it": "La casella di posta è piena.",
    "nl": "Het postvak is vol.",
    "ja": "メールボックスがいっぱいです。",
    "ko": "메일함이 가득 찼습니다.",
    "zh": "对方邮箱已满。",
    "ru": "Почтовый ящик получателя переполнен.",
    "pl": "Skrzynka odbiorcza jest pełna.",
    "tr": "Posta kutusu dolu.",
}
NO_DOMAIN = {
    "en": "The domain far-away.example does not exist.",
    "de": "Die Domain existiert nicht.",
    "fr": "Le domaine far-away.example n'existe pas.",
    "es": "El dominio far-away.example no existe.",
    "pt": "O domínio far-away.example não existe.",
    "it": "Il dominio far-away.example non esiste.",
    "nl": "Het domein far-away.example bestaat niet.",
    "ja": "ドメインが見つかりません。",
    "ko": "도메인을 찾을 수 없습니다.",
    "zh": "域名不存在。",
    "ru": "Домен far-away.example не существует.",
    "pl": "Domena far-away.example nie istnieje.",
    "tr": "Alan adı far-away.example bulunamadı.",
}

SPAM = {
    "en": "The message was rejected as unsolicited bulk email.",
    "de": "Die Nachricht wurde als unerwünschte E-Mail abgelehnt.",
    "fr": "Message refusé : considéré comme courrier indésirable.",
    "es": "Mensaje rechazado por ser correo no deseado.",
    "pt": "Mensagem recusada: classificada como lixo eletrônico.",
    "it": "Messaggio rifiutato come posta indesiderata.",
    "nl": "Bericht geweigerd als ongewenste e-mail.",
    "ja": "迷惑メールと判定されたため受信を拒否しました。",
    "ko": "스팸으로 분류되어 수신이 거부되었습니다.",
    "zh": "邮件被判定为垃圾邮件，已被拒收。",
}
TOO_LARGE = {
    "en": "The message is too large for this mailbox.",
    "de": "Die Nachricht ist zu groß.",
    "fr": "Le message est trop volumineux.",
    "es": "El mensaje es demasiado grande.",
    "pt": "A mensagem é muito grande.",
    "it": "Il messaggio è troppo grande.",
    "nl": "Het bericht is te groot.",
    "ja": "メッセージのサイズが大きすぎます。",
    "ko": "메시지 크기가 너무 큽니다.",
    "zh": "邮件大小超过限制。",
}


def notice(said: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.far-away.example\nTo: rep@acme.example\n"
        "Subject: Delivery failure\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        f"<dana@far-away.example>:\n{said}\n"
    ).encode()


def reading(said: str) -> tuple[str, bool]:
    report = parse_bounce(notice(said))
    assert report is not None
    [failed] = report.recipients
    assert failed.address == "dana@far-away.example"
    return failed.reason, failed.hard


@pytest.mark.parametrize("language", UNKNOWN)
def test_unknown_recipient_in_each_language(language):
    assert reading(UNKNOWN[language]) == ("user_unknown", True)


@pytest.mark.parametrize("language", FULL)
def test_full_mailbox_in_each_language(language):
    assert reading(FULL[language]) == ("mailbox_full", False)


@pytest.mark.parametrize("language", NO_DOMAIN)
def test_domain_that_does_not_exist_in_each_language(language):
    assert reading(NO_DOMAIN[language])[0] == "host_unknown"


OUT_OF_OFFICE = {
    "en": ("Out of Office: Quick question", "I am out of the office until Monday."),
    "de": ("Abwesenheitsnotiz: Kurze Frage", "Ich bin bis Montag nicht im Büro."),
    "fr": ("Absence du bureau : Question", "Je suis actuellement absente du bureau."),
    "es": ("Fuera de la oficina: Pregunta", "Estoy fuera de la oficina hasta el lunes."),
    "pt": ("Ausência temporária: Pergunta", "Estou de férias até segunda-feira."),
    "it": ("Fuori ufficio: Domanda", "Sono fuori ufficio fino a lunedì."),
    "nl": ("Afwezig: Korte vraag", "Ik ben afwezig tot maandag."),
    "ja": ("不在のお知らせ: ご質問", "月曜日まで不在にしております。"),
    "ko": ("부재중: 문의", "월요일까지 휴가 중입니다."),
    "zh": ("自动回复: 问题", "我目前不在办公室，周一回来。"),
}


def reply(subject: str, body: str) -> bytes:
    return (
        f"From: Dana <dana@prospect.example>\nTo: rep@acme.example\nSubject: {subject}\n"
        "In-Reply-To: <abc@acme.example>\nMIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}\n"
    ).encode()


@pytest.mark.parametrize("language", OUT_OF_OFFICE)
def test_out_of_office_in_each_language_by_its_subject(language):
    subject, _ = OUT_OF_OFFICE[language]
    assert classify_message(reply(subject, "Thanks.")).kind == "auto_reply"


@pytest.mark.parametrize("language", OUT_OF_OFFICE)
def test_out_of_office_in_each_language_by_its_body(language):
    _, body = OUT_OF_OFFICE[language]
    assert classify_message(reply("Re: Quick question", body)).kind == "auto_reply"


@pytest.mark.parametrize(
    "body",
    ["Sounds good, let's talk on Tuesday.", "来週の火曜日に話しましょう。", "好的，周二聊。"],
)
def test_a_person_answering_is_not_an_auto_reply(body):
    assert classify_message(reply("Re: Quick question", body)).kind == "reply_candidate"


@pytest.mark.parametrize("language", SPAM)
def test_refused_as_spam_in_each_language(language):
    assert reading(SPAM[language]) == ("spam", False)


@pytest.mark.parametrize("language", TOO_LARGE)
def test_message_too_large_in_each_language(language):
    assert reading(TOO_LARGE[language]) == ("message_too_large", False)


# A whole notice in the language of the mail system that wrote it: its title, its sentence that
# the mail was not delivered, the recipient under a "Recipient:" label.
NOTICE = {
    "ko": ("메일 발송 실패", "보내신 메일이 다음 수신자에게 전달되지 못했습니다.", "받는 사람"),
    "ja": ("配信エラー", "次の宛先にメールを配信できませんでした。", "宛先"),
    "zh": ("退信", "您的邮件无法投递到以下收件人。", "收件人"),
    "de": ("Unzustellbar", "Ihre Nachricht konnte nicht zugestellt werden.", "Empfänger"),
    "fr": ("Non remis", "Votre message n'a pas pu être remis.", "Destinataire"),
    "es": ("No se puede entregar", "No se ha podido entregar su mensaje.", "Destinatario"),
}


def whole_notice(language: str, said: str) -> bytes:
    subject, sentence, label = NOTICE[language]
    return (
        "From: postmaster@mail.far-away.example\nTo: rep@acme.example\n"
        f"Subject: {subject}\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        f"{sentence}\n\n{label}: dana@far-away.example\n{said}\n"
    ).encode()


@pytest.mark.parametrize("language", NOTICE)
def test_a_whole_notice_in_its_language_names_the_recipient_and_the_reason(language):
    report = parse_bounce(whole_notice(language, UNKNOWN[language]))
    assert report is not None
    [failed] = report.recipients
    assert (failed.address, failed.reason, failed.hard) == (
        "dana@far-away.example",
        "user_unknown",
        True,
    )


def test_a_korean_notice_of_a_full_mailbox_in_its_own_wording():
    said = "실패 사유: 받는 사람의 메일함 용량이 초과되었습니다."
    [failed] = parse_bounce(whole_notice("ko", said)).recipients
    assert (failed.reason, failed.hard) == ("mailbox_full", False)


def test_a_persons_reply_in_words_like_a_notice_is_not_a_bounce():
    raw = (
        "From: Minjun Kim <minjun@customer.example>\nTo: rep@acme.example\n"
        "Subject: Re: 제안\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
        "보내주신 자료가 팀장님께 전달되지 못했다고 하네요. 받는 사람: lee@customer.example 로 "
        "다시 보내주시겠어요?\n"
    ).encode()
    assert parse_bounce(raw) is None


# Providers' other wordings. Korean, Japanese and Chinese: a nonexistent or out-of-use address,
# a mailbox short of space, an account dormant, stopped or frozen, a recipient refusing mail,
# an unreachable server, a message too big.
@pytest.mark.parametrize(
    ("said", "reason", "hard"),
    [
        ("존재하지 않는 메일 주소입니다.", "user_unknown", True),
        ("このメールアドレスは現在使われておりません。", "user_unknown", True),
        ("收件人地址错误。", "user_unknown", True),
        ("수신자의 메일함 용량이 부족합니다.", "mailbox_full", False),
        ("メールボックスが一杯です。", "mailbox_full", False),
        ("휴면 상태인 계정입니다.", "mailbox_disabled", False),
        ("アカウントが停止されています。", "mailbox_disabled", False),
        ("该帐号已被冻结。", "mailbox_disabled", False),
        ("수신자가 메일 수신을 거부했습니다.", "filtered", False),
        ("受信拒否されました。", "filtered", False),
        ("被收件人拒收。", "filtered", False),
        ("메일 서버에 연결할 수 없습니다.", "network_error", False),
        ("메일 크기가 너무 큽니다.", "message_too_large", False),
        ("メールのサイズが大きすぎます。", "message_too_large", False),
        # The European languages' words for a locked account, an unavailable mailbox or an
        # invalid address, and German for a connection refused.
        ("Das Konto des Empfängers ist gesperrt.", "mailbox_disabled", False),
        ("Le compte du destinataire est désactivé.", "mailbox_disabled", False),
        ("La cuenta está suspendida.", "mailbox_disabled", False),
        ("A conta está desativada.", "mailbox_disabled", False),
        ("L'account è disabilitato.", "mailbox_disabled", False),
        ("Het account is uitgeschakeld.", "mailbox_disabled", False),
        ("Postfach nicht verfügbar.", "user_unknown", True),
        ("Boîte aux lettres indisponible.", "user_unknown", True),
        ("Dirección no válida.", "user_unknown", True),
        ("Endereço inválido.", "user_unknown", True),
        ("Indirizzo non valido.", "user_unknown", True),
        ("Ongeldig adres.", "user_unknown", True),
        ("Die Verbindung wurde abgelehnt.", "network_error", False),
    ],
)
def test_providers_other_wordings_in_each_language(said, reason, hard):
    assert reading(said) == (reason, hard)


# Exchange writes its NDR in the organization's language: the heading, the address on its own
# line, then "the e-mail address you entered couldn't be found" in that language.
EXCHANGE_NDR = {
    "de": (
        "Übermittlung an folgende Empfänger oder Gruppen fehlgeschlagen:",
        "Die eingegebene E-Mail-Adresse wurde nicht gefunden.",
    ),
    "fr": (
        "La remise à ces destinataires ou groupes a échoué :",
        "L'adresse de messagerie que vous avez entrée est introuvable.",
    ),
    "es": (
        "Error en la entrega a estos destinatarios o grupos:",
        "No se encontró la dirección de correo electrónico que especificó.",
    ),
    "pt": (
        "Falha na entrega para estes destinatários ou grupos:",
        "O endereço de email inserido não foi encontrado.",
    ),
    "it": (
        "Recapito non riuscito a questi destinatari o gruppi:",
        "Impossibile trovare l'indirizzo di posta elettronica immesso.",
    ),
    "nl": (
        "Bezorging is mislukt voor deze ontvangers of groepen:",
        "Het ingevoerde e-mailadres is niet gevonden.",
    ),
    "ja": (
        "次の受信者またはグループへの配信に失敗しました:",
        "入力した電子メール アドレスが見つかりませんでした。",
    ),
    "ko": (
        "다음 받는 사람 또는 그룹에 배달하지 못했습니다.",
        "입력한 전자 메일 주소를 찾을 수 없습니다.",
    ),
    "zh": ("无法传递到以下收件人或组:", "找不到您输入的电子邮件地址。"),
}


EXCHANGE_UNDELIVERABLE = {
    "de": "Unzustellbar",
    "fr": "Non remis",
    "es": "No se puede entregar",
    "pt": "Não é possível entregar",
    "it": "Non recapitabile",
    "nl": "Onbestelbaar",
    "ja": "配信不能",
    "ko": "배달 못 함",
    "zh": "无法传递",
}


@pytest.mark.parametrize("language", EXCHANGE_NDR)
def test_exchange_ndr_in_its_organizations_language(language):
    # Sent by Exchange's system mailbox, titled in the language too.
    heading, sentence = EXCHANGE_NDR[language]
    raw = (
        "From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@"
        "far-away.example>\nTo: rep@acme.example\n"
        f"Subject: {EXCHANGE_UNDELIVERABLE[language]}: Quick question\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        f"{heading}\n\ndana@far-away.example\n{sentence}\n"
    ).encode()
    [failed] = parse_bounce(raw).recipients
    assert (failed.address, failed.reason, failed.hard) == (
        "dana@far-away.example",
        "user_unknown",
        True,
    )
