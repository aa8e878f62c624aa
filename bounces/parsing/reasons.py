"""Why a delivery failed, read from the diagnostic text and the status code.

Reason names follow Sisimai's vocabulary so figures stay comparable with the corpus. The text
decides first (a "550 5.1.1" whose text says "mailbox full" is a full mailbox); the status code
decides when the text says nothing recognisable. Only four reasons mean the address itself is
bad (`HARD_REASONS`); policy, spam, reputation, quota and delay failures are soft.
"""

from __future__ import annotations

import re
from functools import lru_cache

from . import families

HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved", "notaccept"})

# Sisimai's pseudo-codes (`<class>.0.9NN`): the status reported when the message carries
# none, so figures compare literally with Sisimai's (and the corpus's). A temporary failure
# takes the class-4 code where Sisimai defines one, else the permanent code.
PSEUDO_STATUS_PERMANENT: dict[str, str] = {
    "undefined": "5.0.900",
    "onhold": "5.0.901",
    "syntaxerror": "5.0.902",
    "norelaying": "5.0.909",
    "filtered": "5.0.910",
    "userunknown": "5.0.911",
    "hostunknown": "5.0.912",
    "hasmoved": "5.0.916",
    "rejected": "5.0.918",
    "suspend": "5.0.921",
    "mailboxfull": "5.0.922",
    "exceedlimit": "5.0.923",
    "systemerror": "5.0.930",
    "systemfull": "5.0.931",
    "notaccept": "5.0.932",
    "mesgtoobig": "5.0.934",
    "mailererror": "5.0.939",
    "networkerror": "5.0.944",
    "toomanyconn": "5.0.945",
    "speeding": "5.0.945",
    "expired": "5.0.947",
    "contenterror": "5.0.960",
    "securityerror": "5.0.970",
    "blocked": "5.0.971",
    "virusdetected": "5.0.971",
    "policyviolation": "5.0.972",
    "requireptr": "5.0.973",
    "notcompliantrfc": "5.0.974",
    "authfailure": "5.0.975",
    "failedstarttls": "5.0.976",
    "badreputation": "5.0.977",
    "spamdetected": "5.0.980",
}
PSEUDO_STATUS_TEMPORARY: dict[str, str] = {
    "undefined": "4.0.900",
    "onhold": "4.0.901",
    "rejected": "4.0.918",
    "filtered": "4.0.924",
    "mailboxfull": "4.0.922",
    "systemerror": "4.0.930",
    "systemfull": "4.0.931",
    "notaccept": "4.0.932",
    "networkerror": "4.0.944",
    "toomanyconn": "4.0.945",
    "speeding": "4.0.945",
    "expired": "4.0.947",
    "contenterror": "4.0.960",
    "securityerror": "4.0.970",
    "blocked": "4.0.971",
    "spamdetected": "4.0.980",
}


_STAND_IN = re.compile(r"^[245]\.0\.9\d\d$")


def is_stand_in(status: str) -> bool:
    """Whether `status` is one of the pseudo-codes below rather than a code a notice states."""
    return bool(_STAND_IN.match(status))


def pseudo_status(reason: str, *, temporary: bool) -> str:
    """Sisimai's pseudo-code of a reason, for a failure whose message carries no status."""
    if temporary and reason in PSEUDO_STATUS_TEMPORARY:
        return PSEUDO_STATUS_TEMPORARY[reason]
    return PSEUDO_STATUS_PERMANENT.get(reason, "5.0.900")


# "User unknown" and its like: whether the address is bad depends on when the server said it.
GENERIC_UNKNOWN_USER = "userunknown-generic"

# An address, with its brackets: blanked out of wording ("the mailbox <a@b> is full").
_ADDRESS_WORD = re.compile(r" ?<?[^\s<>()\[\]\"',;:]{0,128}@[^\s<>()\[\]\"',;:]{1,255}>? ?")
_ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_REPLY_CODE = re.compile(r"(?<![\d.#-])([245][0-5]\d)(?=[\s,-]|$)")


# Relays' and mail clients' footers about scanning, which say nothing of this delivery.
_FOOTER_MARKERS = ("scanned", "checked for", "as spam", "anti-spam", "antispam", "be clean")
_SCANNING_FOOTER = re.compile(
    r"(?:scanned|checked) for (?:spam|viruses|malware)(?:,? (?:and|&) (?:spam|viruses|malware))*"
    r"|report this (?:e-?mail|message) as spam|\banti-?spam\b|(?:is )?believed to be clean"
    r"|scanned by [\w .-]{0,40}?(?:spam|virus)[\w-]*(?: filter| scanner)?"
)


def _rule(reason: str, *patterns: str, weak: bool = False) -> tuple[str, re.Pattern[str], bool]:
    """A reason and the wording that names it; `weak` wording yields to a specific status code."""
    return reason, re.compile("|".join(f"(?:{pattern})" for pattern in patterns)), weak


# Checked in order, on lower-cased text; the first that matches names the reason. Soft reasons
# whose wording overlaps hard ones ("recipient rejected: mailbox full") come first.
_TEXT_RULES: tuple[tuple[str, re.Pattern[str], bool], ...] = (
    _rule(
        "mailboxfull",
        r"mail ?box (?:is |was )?(?:full|over ?quota|exceeded|size limit)",
        r"(?:over|exceeded?s?|exceeding|reached) (?:the |their |his |her |its |storage |disk )*"
        r"(?:quota|storage allocation|mailbox size)",
        r"quota (?:exceeded|full|limit|violation)",
        r"(?:inbox|account|mail ?folder|mail ?box storage) is full",
        r"insufficient (?:storage|disk space) for (?:user|recipient|mailbox)",
        r"user(?:'s)? (?:space|quota|mailbox) (?:has been used up|is full|exceeded)",
        r"not enough (?:storage|space) (?:in|on) (?:the |this )?(?:mailbox|account)",
        r"too much mail data",
        r"mailbox ?full",
        r"over quota",
        # Ipswitch IMail's "mailbox exceeds allowed size".
        r"mail ?box exceeds (?:the )?(?:allowed|maximum) size",
        # DE, FR, ES, PT, IT, NL, JA, KO, ZH.
        r"postfach (?:[^.\n]{0,30} )?(?:ist )?(?:voll|überfüllt)"
        r"|speicherplatz.{0,30}(?:voll|erschöpft)"
        r"|quota (?:überschritten|dépassé|excedida|superata)",
        # The mailbox, whoever's it is ("el buzón del destinatario está lleno"), is full.
        r"bo[îi]te (?:aux lettres |mail |de r[ée]ception )?[^.\n]{0,30}?(?:est )?pleine",
        r"buz[óo]n (?:de correo )?[^.\n]{0,30}?(?:est[áa] )?lleno|cuota (?:excedida|superada)",
        r"caixa (?:postal |de correio |de entrada )?[^.\n]{0,30}?(?:est[áa] )?cheia"
        r"|cota excedida",
        r"casella (?:di posta |postale )?[^.\n]{0,30}?(?:[èe] )?piena",
        r"(?:mailbox|postvak|postbus) (?:is )?(?:vol|overvol)\b",
        r"メールボックスが(?:いっぱい|一杯)|メールボックスの容量|容量(?:超過|を超え)",
        r"메일함이 (?:가득|꽉)|(?:메일함|사서함|편지함)(?:의)? 용량(?:이|을)? (?:초과|부족)",
        r"용량을 초과",
        r"(?:邮箱|郵箱|信箱|邮件箱)(?:已满|已滿|容量不足|空间不足)|容量已满",
        r"full mailbox",
        r"(?:почтовый )?ящик[^.\n]{0,30}переполнен|превышен[аоы]? (?:квота|лимит|размер ящика)",
        r"skrzynka (?:odbiorcza |pocztowa )?(?:jest )?(?:pełna|przepełniona)"
        r"|przekroczon[oay] (?:limit|przydział|pojemność)",
        r"posta kutusu (?:dolu|doldu)|kota aşıldı",
        # A local delivery agent writing the mailbox file (Postfix local(8), procmail, …): the
        # system's errors for a file at its size limit (mailbox_size_limit: EFBIG) or a user
        # over their disk quota (EDQUOT).
        r"(?:cannot|can't|unable to) (?:update|write to|append to) (?:the )?mailbox"
        r"[^\n]{0,120}(?:file too large|disk quota exceeded)",
        r"error writing message: (?:file too large|disk quota exceeded)",
    ),
    # Not the antivirus footers relays append after a notice ("checked by ... Antivirus",
    # "virus signature database", "scanned for viruses", AVG's "No virus found in this
    # message"): only a verdict on this message.
    _rule(
        "virusdetected",
        r"(?<!anti)(?<!anti-)(?<!for )(?<!no )virus(?:es)?"
        r"(?! signature| scan| definition|-free| database| protection| checked)",
        r"infected",
        r"malware",
    ),
    _rule(
        "authfailure",
        r"dmarc",
        r"\bspf (?:check|fail|validation|record|violation|softfail|hardfail|policy)",
        r"sender policy framework",
        r"\bdkim (?:check|fail|signature)",
        r"unauthenticated (?:e-?mail|message|sender)",
        r"sender authentication failed",
        r"authentication results? (?:failed|did not pass)",
    ),
    _rule(
        "requireptr",
        r"\bptr\b",
        r"reverse (?:dns|lookup|hostname|host ?name)",
        r"\brdns\b",
        r"cannot find your (?:reverse )?hostname",
        r"(?:client|your) (?:host|ip) (?:name )?(?:has|does) not (?:have )?(?:a )?(?:reverse|dns)",
        r"ip address has no (?:ptr|dns name)",
        r"\bip(?: address)? (?:not found in (?:the )?dns|not resolv\w*|unknown)",
        r"unresolvable (?:ip|client|host)",
    ),
    _rule(
        "badreputation",
        r"(?:poor|low|bad) (?:ip |sender )?reputation",
        r"reputation of (?:your|the sending)",
    ),
    _rule(
        "spamdetected",
        r"\bspam\b(?!haus| ?cop| ?trap)",
        r"spam (?:content|detected|message)",
        r"junk ?mail",
        r"unsolicited (?:bulk |commercial )?e-?mail",
        r"message (?:content )?(?:rejected|refused) (?:as|due to) (?:spam|bulk)",
        r"bulk (?:e-?mail|mail)",
        r"content filter",
        r"classified as (?:spam|junk)",
        # DE, FR, ES, PT, IT, NL, JA, KO, ZH: "judged unsolicited / junk" in each language
        # ("Spam" itself is the same word in most of them).
        r"unerwünschte (?:e-?mail|nachricht|werbung)|werbe-?e-?mail",
        r"pourriel|courrier ind[ée]sirable|message ind[ée]sirable",
        r"correo (?:no deseado|basura)|mensaje no deseado",
        r"lixo eletr[ôo]nico|mensagem (?:indesejada|n[ãa]o solicitada)",
        r"posta indesiderata|messaggio indesiderato",
        r"ongewenste (?:e-?mail|berichten?|post)",
        r"迷惑メール|スパム",
        r"스팸|광고성 (?:메일|정보)",
        r"垃圾邮件|垃圾郵件|广告邮件",
    ),
    _rule(
        "policyviolation",
        r"policy (?:violation|rejection|reasons|restrictions)",
        r"violat(?:es|ion of|ed) (?:our|the|local|site|company) (?:\w+ )?polic",
        r"prohibited (?:content|attachment|file)",
        r"not allowed by (?:the )?(?:recipient|local) policy",
        # Attachments and content refused by the receiving organization's rules.
        r"(?:potentially )?executable (?:attachment|content)|illegal attachment",
        r"not accepting mail with (?:attachments|embedded images)",
        r"messages containing images or other attachments",
        r"rejected (?:by|due to) (?:the |local )?(?:organization(?:['’]s)? )?policy",
        r"content presents a potential security issue|using a mass mailer|protocol violation",
    ),
    _rule(
        "norelaying",
        r"relay(?:ing)? (?:access )?(?:denied|not (?:permitted|allowed))",
        r"(?:unable|not permitted|not allowed|refused) to relay",
        r"we do not relay",
        r"relay not permitted",
        r"no relaying",
    ),
    _rule(
        "suspend",
        r"(?:account|mailbox|address|user|recipient)(?: has been| is| was)? "
        r"(?:temporarily |permanently )?(?:disabled|suspended|deactivated|inactive|locked|frozen)",
        r"(?:disabled|suspended|inactive|deactivated|expired|closed|blocked) "
        r"(?:account|mailbox|user|recipient)",
        r"\baccount (?:is )?(?:not active|closed)",
        r"mailbox (?:is )?(?:currently )?(?:not active|inactive)",
        r"temporar(?:y|ily) (?:locked|disabled|suspended|inactive)",
        r"mailbox unavailable or access denied|recipient suspend(?:ed)? the service",
        r"\baccount (?:has )?expired",
        # DE, FR, ES, PT, IT, NL: the account is locked, disabled or suspended.
        r"(?:konto|postfach)[^.\n]{0,30}(?:gesperrt|deaktiviert)",
        r"compte[^.\n]{0,30}(?:d[ée]sactiv[ée]|suspendu|bloqu[ée])",
        r"cuenta[^.\n]{0,30}(?:deshabilitada|desactivada|suspendida|bloqueada)",
        r"conta[^.\n]{0,30}(?:desativada|desactivada|suspensa|bloqueada)",
        r"account[^.\n]{0,30}(?:disabilitato|sospeso|bloccato|uitgeschakeld|opgeschort|geblokkeerd)",
        # KO, JA, ZH: a dormant, stopped or frozen account.
        r"휴면 (?:상태|계정)|(?:정지|비활성화?)된 계정|계정이 (?:정지|잠겨|비활성)",
        r"アカウント(?:が|は)(?:停止|凍結|無効|休止)",
        r"(?:帐号|帳號|账户|账号|帳戶|用户|用戶)(?:已)?被?(?:冻结|凍結|停用|禁用)",
        # French providers: the recipient's mailbox was archived ("boîte du destinataire archivée").
        r"bo[iî]te du destinataire archiv[ée]e",
    ),
    _rule(
        "mailererror",
        r"command output:",
        r"(?:command|program|pipe) (?:died|failed|exited)",
        r"mailer error",
        r"procmail",
        r"exit (?:status|code)",
        # Exim's local delivery to a command ("pipe to |/usr/bin/..."): the command failed.
        r"\bpipe to \|",
    ),
    # Fixed sentences of MTAs' own templates, read for what each says. Exim (its spec's
    # messages for failed lookups, local transports and loops):
    _rule("hostunknown", r"all host address lookups failed permanently"),
    _rule("notaccept", r"an mx or srv record indicated no smtp service"),
    _rule("systemerror", r"delivery to (?:file|pipe) forbidden", r"local delivery failed"),
    _rule("contenterror", r"too many \"?received\"? headers"),
    _rule("mailboxfull", r"error: quota exceed"),
    # Lotus Notes / Domino: an ambiguous name, a hop count run out, a route refused, and the
    # Japanese edition's "not in the directory" (an unknown address, as in English).
    _rule("systemerror", r"several matches found in (?:the )?domino directory"),
    _rule("networkerror", r"exceeded (?:the )?maximum hop count"),
    _rule("filtered", r"cannot route mail to user"),
    _rule(
        "userunknown", r"ディレクトリ(?:の(?:リスト|一覧))?(?:に|には)(?:ありません|見つかりません)"
    ),
    # KDDI's (au) notices: a relay refused, a domain that does not exist.
    _rule("norelaying", r"due to the following smtp relay error"),
    _rule("hostunknown", r"as the remote domain doesn['’]?t exist"),
    _rule(
        "notaccept",
        # A domain without MX: nothing there takes mail (OpenSMTPD, Yahoo's wording).
        r"no mx (?:record )?found for (?:domain|destination)",
    ),
    _rule(
        "networkerror",
        r"network error on destination",
        r"name service error.{0,80}(?:malformed|try again|timed? ?out|server failure|refused)",
        r"host not found, try again",
        r"temporary (?:dns|lookup) failure",
    ),
    _rule(
        "hasmoved",
        r"(?:address|mailbox|user) has (?:moved|changed)",
        # "address a@b has been replaced by c@d" (RFC 3463's x.1.6, said in words).
        r"has been replaced by",
        # The recipient moved, not a message moved to quarantine or junk, nor a server.
        r"(?:user|recipient|mailbox|address|account|addressee)(?: has| was| is)?(?: been)? moved"
        r" (?:to|permanently)",
        r"no longer (?:valid|in use) ?[,;.-]? ?(?:please )?(?:use|send|contact|try)",
    ),
    _rule(
        "mesgtoobig",
        r"message (?:is )?(?:too (?:large|big)|size exceeds|exceeds (?:the )?(?:maximum|size))",
        r"(?:size|length) limit exceeded",
        r"exceeds (?:the )?(?:maximum|max) (?:message )?size",
        r"message too large",
        # DE, FR, ES, PT, IT, NL, JA, KO, ZH: "the message is too big / exceeds the size limit".
        r"nachricht (?:ist )?zu gro(?:ß|ss)",
        r"(?:überschreitet|übersteigt) die (?:maximale |zulässige )?(?:nachrichten)?größe",
        r"message (?:est )?trop (?:volumineux|gros|grand)",
        r"d[ée]passe la taille (?:maximale|autoris[ée]e)",
        r"mensaje (?:es )?demasiado grande|(?:excede|supera) el tama[ñn]o m[áa]ximo",
        r"mensagem (?:[ée] )?(?:muito grande|grande demais)",
        r"(?:excede|ultrapassa) o tamanho m[áa]ximo",
        r"messaggio (?:[èe] )?troppo grande|supera la dimensione massima",
        r"bericht is te groot|overschrijdt de maximale (?:bericht)?grootte",
        r"(?:メッセージ|メール)(?:の)?サイズが(?:大きすぎ|上限を超え)|サイズ(?:制限|上限)を超え",
        r"(?:메시지|메일)(?:의|가)? ?크기가 (?:너무 (?:크|큽)|제한을 초과)|크기 제한을 초과",
        r"邮件(?:大小)?(?:过大|太大|超过(?:了)?(?:最大|大小)?限制)|郵件(?:過大|太大)",
    ),
    _rule(
        "exceedlimit",
        r"exceeded (?:the )?(?:maximum )?(?:message|recipient|daily) ",
        r"too many recipients",
    ),
    _rule(
        "speeding",
        r"rate limit",
        r"(?:sending|message|connection) rate",
        r"too many (?:messages|emails|mails)",
        r"throttl",
    ),
    _rule(
        "toomanyconn",
        r"too many (?:connections|concurrent|sessions|smtp sessions)",
        r"connection limit",
    ),
    _rule(
        "failedstarttls",
        r"starttls",
        r"\btls (?:negotiation|handshake|is required|required)",
        r"must issue a starttls",
        r"(?:does not|doesn't|not) support (?:start)?tls",
    ),
    _rule(
        "rejected",
        r"domain of sender address",
        r"sender (?:address|domain) (?:rejected|does not exist|not found|unknown|invalid)",
        r"after mail from",
        # The sender's domain, in the words of servers checking it: read before the unknown
        # domain rules, which are about the recipient's.
        r"(?:your|sender['’]?s?|sending|from:?(?: header)?|envelope from) domain"
        r"(?: name)? (?:does(?: not|n't) exist|has no (?:mx|dns)|not found|is (?:not valid|invalid)"
        r"|is unknown)",
        r"\bunknown sender\b",
        r"domain of (?:the )?sender|sender domain must (?:resolve|exist)",
        r"(?:sender|mail from|envelope sender|reply-to|return[- ]path)"
        r"(?: address| mailbox| domain)? (?:is )?"
        r"(?:not valid|invalid|does(?: not|n't) exist|not found|unknown)",
        r"domain in your from header|(?:mx|dns) (?:record )?for your domain",
        r"cannot resolve your (?:domain|address|sender)",
    ),
    # The sending side's own relay (a smarthost) that cannot be found.
    _rule("networkerror", r"relay host (?:unknown|not found)"),
    # The sending server itself, unknown to the receiving one (its HELO name, its host name):
    # not the recipient's domain.
    _rule(
        "blocked",
        r"(?:client|sending|sender|your) host(?: ?name)? (?:is )?(?:unknown|not found"
        r"|does(?: not|n't) exist)",
        r"(?:helo|ehlo)(?: command)? rejected|invalid (?:helo|ehlo)",
        r"(?:client|connecting) host (?:\[[^\]]{0,60}\] )?(?:rejected|blocked)",
        r"your (?:mail )?server['’]?s? (?:host ?)?name (?:is )?(?:unknown|not found)",
    ),
    _rule(
        "hostunknown",
        r"host (?:or domain name )?(?:unknown|not found)",
        r"unknown (?:host|domain)\b",
        # PMDF and its successors (Sun / Oracle Messaging Server): an address' domain unknown.
        r"illegal host/domain name",
        r"no such domain",
        r"domain (?:name )?(?:not found|does(?: not|n't) exist|is not valid|unknown|invalid)",
        r"name or service not known",
        r"host name lookup failure",
        # qmail-remote's DNS failure: "Sorry, I couldn't find any host named x. (#5.1.2)"
        # and, for the address lookup, "... any host by that name".
        r"couldn['’]?t find any host (?:named|by that name)",
        r"unroute?a?ble (?:address|domain|mail domain)",
        r"recipient domain must exist|mail domain mentioned in (?:the )?e-?mail address is unknown",
        # A hosting panel's Exim template: "… could not deliver mail to a@b. The account or
        # domain may not exist, they may be blacklisted, or missing the proper dns entries."
        r"the account or domain may not exist",
        r"nxdomain",
        r"(?:all relevant )?mx records? (?:point to non-existent|not found)",
        r"no (?:valid )?mx (?:record|host)",
        r"recipient domain (?:not found|does not exist)",
        r"dns (?:error|lookup failed).{0,40}(?:not found|nxdomain|does not exist)",
        r"domain is not reachable",
        r"domain \S+ (?:couldn['’]?t|could not|cannot|can['’]?t) be found",
        r"domain name in the e-?mail address is (?:incorrect|not valid|invalid)",
        r"dom(?:ain|äne)(?: [^.\n]{0,30}?)? "
        r"(?:existiert nicht|(?:wurde )?nicht gefunden|unbekannt)",
        r"domaine(?: \S+)? (?:n'existe pas|n’existe pas|inconnu|introuvable)",
        r"dominio(?: \S+)? (?:no existe|desconocido|non esiste|inesistente|sconosciuto)",
        r"dom[íi]nio(?: \S+)? (?:n[ãa]o existe|desconhecido|inexistente)",
        r"domein(?: \S+)? bestaat niet|onbekend domein",
        r"ドメインが(?:存在しません|見つかりません)|존재하지 않는 도메인|도메인을 찾을 수 없"
        r"|域名不存在|網域不存在|域名无法解析",
        r"домен(?: \S+)? не (?:существует|найден)|неизвестный домен",
        r"domena(?: \S+)? nie istnieje|nieznana domena",
        r"alan adı(?: \S+)? (?:mevcut değil|bulunamadı)",
        r"(?:^|\s)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,} does not exist",
    ),
    # A member refusing this sender (AOL's "not accepting mail from <sender>"): the address
    # works, the recipient filters.
    _rule(
        "filtered",
        r"not accepting (?:e-?)?mail from",
        # KO, JA, ZH: the recipient refuses to receive (this sender's) mail.
        r"수신(?:을|이)? ?거부|受信拒否|拒收|拒绝接收|拒絕接收",
    ),
    _rule(
        "notaccept",
        # (Not "not accepting mail with attachments": a policy on the message.)
        r"(?:does not|doesn't|not) accept(?:ing)? (?:any )?(?:e-?)?mail(?! from| with)",
        r"null mx",
        r"domain (?:does not|doesn't) (?:receive|accept) mail",
    ),
    _rule(
        "rejected",
        r"sender (?:address )?(?:rejected|denied|refused|blocked|verify failed|not allowed)",
        r"(?:domain of )?sender address (?:rejected|does not)",
        r"mail from (?:rejected|refused|denied)",
        r"not a member",
        r"(?:only|may) (?:members|subscribers) (?:can|may) post",
        r"does not have permission to post",
        r"sender (?:is )?not (?:allowed|authorized|permitted)",
        r"your (?:e-?mail|address) (?:has been |is )?(?:rejected|blacklisted)",
        r"envelope (?:sender|from) (?:rejected|refused|invalid)",
        r"rejected by recipient",
        # Exchange: the recipient accepts mail only from some senders (a restricted group).
        r"delivery to this address is restricted",
        # Refusals of the envelope sender: BATV signatures, null or unqualified senders,
        # qmail's badmailfrom, Exim's default ACL refusal ("administrative prohibition").
        r"\bbatv (?:failed|validation)|backscatter protection|bogus mail from",
        r"(?:empty envelope|null) senders? (?:is |are )?not allowed|no third-party dsns",
        r"(?:invalid|unroute?able|unqualified) sender(?: address)?\b|sender domain is empty",
        r"fully qualified e-?mail address required|without a valid sender domain",
        r"mail from not owned by user|returned mail not accepted here|badmailfrom list",
        r"administrative prohibition|[ée]metteur invalide|from: domain is invalid",
        r"not a registered gateway user|access to submit messages to this e-?mail system",
    ),
    # A blocklist named beside an address's words ("mailbox unavailable (your IP is
    # blacklisted)"): the sender was refused, not the address. ("not listed in" the directory
    # is an unknown address.)
    _rule(
        "blocked",
        r"black ?list|block ?list|spamhaus|\b(?:rbl|dnsbl|rbls)\b|(?<!not )listed (?:at|on) ",
    ),
    # Facebook's refusal by the recipient's settings: a filter, not a bad address.
    _rule("filtered", r"refused due to recipient preferences"),
    _rule(
        "userunknown",
        # Exchange Online's directory-based edge blocking of an address it does not host.
        r"recipient address rejected: access denied",
        r"address couldn't be found",
        # Exchange's NDR sentences (Microsoft's NDR reference): the address "you entered".
        r"e-?mail address you entered (?:couldn['’]?t|could not) be found",
        # Exchange Online's own words for a recipient its directory does not hold.
        r"(?:wasn['’]?t|was not) found at\b",
        r"unknown to address",
        r"check if (?:the )?address is correct",
        # Trend Micro InterScan's notice of a recipient the next server refused: "Unable to
        # deliver message to <a@b> (and other recipients in the same domain)."
        r"\(and other recipients in the same domain\)",
        r"invalid recipient",
        r"invalid (?:final )?(?:delivery )?user ?id",
        r"(?:user|recipient|mailbox|address|account|addressee|e-?mail address|destination)"
        r"(?: name)? (?:does(?: not|n't) exist|not (?:found|exist|known|listed|valid)"
        r"|is not (?:recognized|valid|known))",
        # Netscape / iPlanet Messaging Server: "The following destination addresses were
        # unknown", and its successors' (Sun, Oracle) "unknown or illegal alias".
        r"(?:destination |recipient )?(?:addresses|recipients|users) (?:were|are) unknown",
        r"(?:unknown|illegal) (?:or illegal )?alias",
        # Said of the address (or of what the text names it by: a list, a group), not of a key,
        # a record, a route or a rule, nor "does not match any" allowed sender.
        r"(?<!key )(?<!record )(?<!entry )(?<!certificate )(?<!queue )(?<!route )(?<!rule )"
        r"(?<!policy )(?<!folder )(?<!file )(?:does(?: not|n't)|did not) exist",
        r"(?:does(?: not|n't)|did not) match any (?:user|recipient|mailbox|account|address)",
        r"(?:invalid|bad|unknown|non-?existent) (?:recipient|mailbox|user|address|destination)",
        r"(?:invalid|unknown) (?:receiver|addressee)(?: address)?\b",
        r"recipient (?:unknown|not found|invalid)",
        r"address (?:unknown|not found|invalid)",
        r"(?:address(?:es)?|recipients?|users?)(?:['’]s?)?(?: address(?:es)?)? (?:is|are|was|were)"
        r" not found",
        r"mailbox (?:unavailable|not found|does not exist|name not allowed|is not valid)",
        r"no valid recipients",
        r"(?:not|isn't) a (?:valid|known) (?:user|mailbox|recipient|address)",
        r"name is not recognized",
        r"recip(?:ient)?notfound",
        r"doesn't have an? [\w.-]+ account",
        r"not listed in",
        r"no mailbox",
        r"no account",
        r"user not (?:found|local)",
        r"mailbox .{0,40} (?:does not exist|not found)",
        r"addressee unknown",
        r"unrouteable",
        # Wordings that name the address itself, whoever writes them: a local delivery's
        # own verdict (LMail/LSMTP "No such local user"), webmail providers' and appliances'.
        r"no such local (?:user|mailbox)",
        r"unknown e-?mail address",
        r"no mail ?box (?:is )?available for this user",
        r"not an? (?:active|existing) (?:e-?mail )?(?:address|account|mailbox)",
        r"\bbad_recipient\b",
        # qmail's recipient-check patches (badrcptto, validrcptto, rcptcheck), vpopmail's
        # vdelivermail, Exchange's older wording, and other servers' replies to RCPT.
        r"badrc?pt(?:to)?\b|badrecipientto list|not in my validrcptto list",
        r"your envelope recipient (?:has been denied|is in my)",
        r"invalid or unknown virtual user|user missing home directory",
        r"domain or user isn['’]?t in my list of allowed rcpthosts",
        r"recipient ?notfound|the user['’]?s email name is not found",
        r"address not present in directory|mailbox not present|mailbox unavaiable",
        r"email address could not be found|can['’]?t accept user",
        r"destination server rejected recipients|the following recipients was undeliverable",
        r"there is no one at this address|this address no longer accepts mail",
        r"(?:e-?mail )?address is wrong or no longer valid|not email addresses",
        r"not a local address|recipient is not (?:local|accepted)|recipient not ok\b",
        r"recipient refuses to accept your mail|account unavailable\b|user not active",
        r"nessun utente simile|no existe (?:dicha persona|ese usuario)",
        # Comcast's reply for an address it does not host.
        r"not our customer",
        # DE, FR, ES, PT, IT, NL, JA, KO, ZH: the recipient, user or address is unknown or
        # does not exist (a domain that does not exist is read above).
        r"(?:empfänger|benutzer|postfach|adresse|konto)(?:adresse)? (?:ist )?"
        r"(?:unbekannt|existiert nicht|nicht vorhanden)|unbekannte[rn]? (?:empfänger|benutzer)",
        r"(?:destinataire|utilisateur|adresse|bo[îi]te|compte|correspondant)[^.\n]{0,40}"
        r"n['’]existe pas|(?:destinataire|utilisateur|adresse) (?:inconnue?|invalide)",
        r"(?:usuario|destinatario|buz[óo]n|cuenta|direcci[óo]n)(?: de correo)? (?:no existe"
        r"|desconocid[oa]|inexistente)",
        r"(?:usu[áa]rio|utilizador|destinat[áa]rio|conta|endere[çc]o)(?: de e-?mail)? "
        r"(?:n[ãa]o existe|desconhecid[oa]|inexistente)",
        r"(?:utente|destinatario|casella|indirizzo)(?: di posta)? (?:non esiste|sconosciut[oa]"
        r"|inesistente)",
        # Exchange's localized NDRs: "the e-mail address you entered couldn't be found".
        r"adresse[^.\n]{0,40}(?:wurde )?nicht gefunden|adresse[^.\n]{0,60}introuvable",
        r"no se (?:encontr[óo]|pudo encontrar) la direcci[óo]n",
        r"endere[çc]o[^.\n]{0,40}n[ãa]o (?:foi )?encontrado",
        r"impossibile trovare l['’]indirizzo|indirizzo[^.\n]{0,40}non (?:[èe] stato )?trovato",
        r"adres[^.\n]{0,40}(?:is )?niet gevonden|アドレスが見つかりません",
        r"找不到[^。\n]{0,20}(?:地址|收件人|用户)",
        # The mailbox unavailable, the address invalid, in DE, FR, ES, PT, IT, NL.
        r"postfach nicht verf[üu]gbar|bo[iî]te aux lettres indisponible|buz[óo]n no disponible",
        r"caixa postal indispon[íi]vel|casella (?:di posta )?non disponibile",
        r"adresse ung[üu]ltig|ung[üu]ltige (?:e-?mail-?)?adresse|direcci[óo]n no v[áa]lida",
        r"endere[çc]o inv[áa]lido|indirizzo non valido|ongeldig (?:e-?mail)?adres",
        r"(?:gebruiker|ontvanger|adres|mailbox|postvak) (?:bestaat niet|is onbekend|onbekend)"
        r"|onbekende (?:gebruiker|ontvanger)",
        r"(?:ユーザ|ユーザー|宛先|アカウント|メールアドレス)(?:は|が)?(?:存在しません|見つかりません)"
        r"|宛先不明",
        r"(?:사용자|수신자|계정|주소|받는 사람)(?:가|이|를|을)? (?:존재하지 않|없습니다|찾을 수 없)"
        r"|존재하지 않는 (?:메일 |이메일 |전자우편 )?(?:사용자|계정|주소|아이디)",
        r"(?:メール)?アドレスは(?:現在)?(?:使われておりません|使用されていません)",
        r"收件人地址(?:错误|錯誤|无效|無效)",
        r"(?:用户|用戶|收件人|帐号|帳號|账户|帳戶|地址|邮箱|郵箱)(?:名)?(?:不存在|无效|無效)"
        r"|查无此人|查無此人",
        # RU, PL, TR: the same sentences.
        r"пользовател[ья] не (?:найден|существует)|нет такого (?:пользователя|адресата|ящика)"
        r"|(?:почтовый ящик|адрес|адресат|получатель|аккаунт|учетная запись)[^.\n]{0,30}"
        r"не (?:существует|найден)|неизвестн(?:ый|ого) (?:пользовател|получател|адрес)",
        r"(?:użytkownik|odbiorca|adres|konto|skrzynka)[^.\n]{0,30}nie istnieje"
        r"|nieznany (?:użytkownik|odbiorca|adres)",
        r"(?:kullanıcı|alıcı|adres|hesap)[^.\n]{0,30}(?:mevcut değil|bulunamadı)"
        r"|böyle bir kullanıcı yok",
    ),
    _rule(
        GENERIC_UNKNOWN_USER,
        r"user(?:name)? (?:is )?unknown",
        r"unknown (?:user|recipient|local[- ]part|address|mailbox|e-?mail address)",
        r"(?:mailbox|recipient|addressee) (?:is )?unknown",
        r"no such (?:user|recipient|mailbox|address|account|person)",
    ),
    _rule(
        "blocked",
        r"black ?list",
        r"block ?list",
        r"spamhaus",
        r"\b(?:rbl|dnsbl|rbls)\b",
        r"listed (?:at|on|in) ",
        r"(?:client|connecting) host (?:rejected|blocked)",
        r"(?:your|client|sending) (?:ip|host|server|network)(?: address)?(?: \S+)? "
        r"(?:is |has been |was )?(?:blocked|banned|blacklisted|rejected|not allowed)",
        r"(?:has|have) been (?:temporarily )?(?:blocked|banned)",
        r"blocked (?:using|by|because|due)",
        r"invalid ip for sending",
    ),
    _rule(
        "blocked",
        r"access denied",
        r"connection (?:refused|rejected) (?:by|from|due)",
        r"service not available",
        r"\bblocked\b",
        weak=True,
    ),
    _rule(
        "expired",
        r"retry (?:time(?:out)?|period) (?:exceeded|expired|not reached)",
        r"(?:message|delivery) (?:has )?(?:expired|timed? ?out)",
        r"could not be delivered (?:with)?in",
        # Netscape Messaging Server: "not reachable within the allowed queue period", "Your
        # message was not delivered within 5 days".
        r"(?:was|were|been) not delivered within",
        r"within the allowed queue period",
        r"(?:not been|unable to be|couldn't be|could not be) delivered for",
        r"cannot send message for",
        # Not qmail-remote's "Giving up on <host>.", which closes any permanent refusal.
        r"giving up(?! on \d)",
        r"too old",
        r"have been unable to deliver",
        r"(?:been|was|is) in the queue too long|queue too long",
        r"envelope expired",
        # Ipswitch IMail's "Delivery failed 4 attempts"; demon's POP mail left uncollected.
        r"delivery failed \d+ attempts",
        r"not (?:been )?collected (?:after|within|for) \d+ days",
        r"all hosts have been failing",
        r"did not accept our requests? to connect",
        r"aborted after",
        r"delay(?:ed)? ",
        r"still (?:being )?retr(?:y|ied)",
        r"will (?:keep|continue) (?:trying|to try|to retry)",
        r"not (?:yet )?been delivered",
        r"queue (?:time|lifetime)",
    ),
    _rule(
        "networkerror",
        r"connection (?:timed out|refused|reset|lost|closed|dropped)",
        # DE: timed out, connection refused or cut; KO, JA, ZH: the server could not be reached.
        r"zeit[üu]berschreitung|verbindung (?:wurde )?(?:abgelehnt|unterbrochen|getrennt)",
        r"(?:메일 )?(?:서버|호스트)에 연결할 수 없|サーバ(?:ー)?に接続できません",
        r"无法连接(?:到)?(?:邮件)?服务器",
        r"timed out",
        r"no route to host",
        r"network is unreachable",
        r"could not connect",
        r"(?:unable|failed) to connect",
        r"lost connection",
        r"dns (?:error|failure|lookup)",
        r"temporary (?:dns|lookup) failure",
        weak=True,
    ),
    _rule(
        "syntaxerror",
        r"syntax error",
        r"malformed",
        r"bad (?:recipient )?address syntax",
        r"invalid (?:address )?syntax",
        weak=True,
    ),
    _rule(
        "securityerror",
        r"authentication (?:required|failed|unsuccessful)",
        r"(?:not |un)authori[sz]ed",
        r"security (?:policy|reasons)",
        r"must (?:authenticate|log ?in)",
        r"certificate",
        weak=True,
    ),
    _rule(
        "systemfull",
        r"insufficient (?:system )?storage",
        r"(?:disk|file ?system) (?:is )?full",
        r"out of (?:disk|storage)",
        weak=True,
    ),
    _rule(
        "systemerror",
        r"system error",
        r"internal (?:server )?error",
        r"(?:mail )?loop (?:detected|back)",
        r"too many hops",
        r"local (?:configuration )?error",
        r"configuration error",
        r"server (?:error|failure)",
        weak=True,
    ),
    _rule(
        "contenterror",
        r"executable files are not allowed in compressed files|mime complexity exceeds",
        r"header size,? or recipient list,? exceeds|improperly-formatted binary content",
        r"unnecessary base64 encoding",
        r"(?:header|content|message) (?:error|rejected|not acceptable)",
        r"line too long",
        r"invalid (?:header|mime|content)",
        weak=True,
    ),
    _rule(
        "filtered",
        r"filter",
        r"refused by (?:the )?recipient",
        r"delivery not authorized",
        r"message refused",
        weak=True,
    ),
    # Postfix prefixes every refusal at RCPT with "Recipient address rejected:"; what follows
    # says why ("Delivery not authorized", "Mailbox full"), and only when it names nothing
    # else is the refusal about the address.
    _rule("userunknown", r"(?:recipient )?address rejected", r"recipient rejected", weak=True),
)

# Reason of an enhanced status code: the most specific form ("5.7.26"), then its subject
# and detail without the class ("1.1"), then the subject alone ("7").
_REASON_FOR_CODE: dict[str, str] = {
    "1.0": "userunknown",
    "1.1": "userunknown",
    "1.2": "hostunknown",
    "1.3": "userunknown",
    "1.4": "userunknown",
    "1.5": "userunknown",
    "1.6": "hasmoved",
    "1.7": "rejected",
    "1.8": "rejected",
    "1.9": "systemerror",
    "1.10": "userunknown",
    "1.351": "userunknown",
    "2.0": "filtered",
    "2.1": "suspend",
    "2.2": "mailboxfull",
    "2.3": "exceedlimit",
    "2.4": "systemerror",
    "3.0": "systemerror",
    "3.1": "systemfull",
    "3.2": "notaccept",
    "3.3": "systemerror",
    "3.4": "mesgtoobig",
    "3.5": "systemerror",
    "4.0": "networkerror",
    "4.1": "networkerror",
    "4.2": "networkerror",
    "4.3": "systemerror",
    "4.4": "hostunknown",
    "4.5": "networkerror",
    "4.6": "networkerror",
    "4.7": "expired",
    "4.312": "networkerror",
    "4.316": "expired",
    "5.0": "syntaxerror",
    "5.1": "syntaxerror",
    "5.2": "syntaxerror",
    "5.3": "exceedlimit",
    "5.4": "syntaxerror",
    "5.5": "syntaxerror",
    "6.0": "contenterror",
    "6.1": "contenterror",
    "7.0": "securityerror",
    "7.1": "blocked",
    "7.6": "securityerror",
    "7.7": "securityerror",
    "7.9": "policyviolation",
    "7.10": "failedstarttls",
    "7.13": "suspend",
    "7.25": "requireptr",
    # RFC 7372: DKIM (x.7.20-22) and SPF (x.7.23-24) validation failed; x.7.26 several did.
    "7.20": "authfailure",
    "7.21": "authfailure",
    "7.22": "authfailure",
    "7.23": "authfailure",
    "7.24": "authfailure",
    "7.26": "authfailure",
    "7.27": "notaccept",
    "7.509": "authfailure",
    "7.606": "blocked",
    "7.650": "badreputation",
}


# Whole-report wording that names the reason when the recipient's own diagnostic says nothing:
# Google Groups refusing a post (the group is gone or the sender may not post; its notices
# are localized, the support link is not) and Gmail's "Send mail as" relay refusals.
_REPORT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "rejected",
        re.compile(
            r"groups\.google\.com/support|permission to post|'send mail as'|p=customfromdenied"
        ),
    ),
)


def reason_from_report(text: str) -> str | None:
    lowered = text.lower()
    for reason, pattern in _REPORT_RULES:
        if pattern.search(lowered):
            return reason
    return None


def find_status(text: str) -> str | None:
    """The most specific enhanced status code in the text: one with a non-zero detail if any."""
    best: str | None = None
    for found in _ENHANCED_STATUS.finditer(text):
        code = ".".join(found.groups())
        if best is None or (best.endswith(".0.0") and not code.endswith(".0.0")):
            best = code
    return best


def find_reply_code(text: str) -> str | None:
    found = _REPLY_CODE.search(text)
    return found.group(1) if found else None


def reason_from_text(text: str) -> str | None:
    found = _reason_in_text(text)
    if found is None:
        return None
    return "userunknown" if found[0] == GENERIC_UNKNOWN_USER else found[0]


@lru_cache(maxsize=1024)
def _reason_in_text(text: str) -> tuple[str, bool] | None:
    """(reason, whether the wording is weak) of the first rule the text matches.

    Addresses are blanked first: a local part ("blocked@", "filtered@") is not wording; so
    are the scanning footers relays append ("scanned for spam and viruses by …").
    """
    lowered = _ADDRESS_WORD.sub(" ", text.lower()) if "@" in text else text.lower()
    if any(marker in lowered for marker in _FOOTER_MARKERS):
        lowered = _SCANNING_FOOTER.sub(" ", lowered)
    for reason, pattern, weak in _TEXT_RULES:
        if pattern.search(lowered):
            return reason, weak
    return None


def reason_from_status(status: str | None) -> str | None:
    if not status:
        return None
    _, _, rest = status.partition(".")
    if rest in _REASON_FOR_CODE:
        return _REASON_FOR_CODE[rest]
    return None


def is_vague(status: str | None) -> bool:
    """Codes that say nothing beyond permanent/temporary: the text must tell the reason."""
    return status is None or status.endswith(".0.0") or status[2:] in {"0.0", "5.0", "7.1", "7.0"}


def classify(
    diagnostic: str,
    status: str | None,
    *,
    delayed: bool = False,
    context: str = "",
    family: str | None = None,
) -> tuple[str, str, bool]:
    """(reason, status, hard) for one recipient, in this module's internal categories.

    The text names the reason unless its wording is generic ("access denied") and the status
    code is specific. A status found in the text fills a missing or vague one; where there is
    none at all, the reason's pseudo-code stands in, its class that of the remote reply quoted
    (or the wording: "temporary"), not of the notice: a delay notice quoting nothing is class 5.
    `family` (see `families`) applies what the reporting MTA's format tells beyond wording.
    """
    status = _better_status(status, diagnostic)
    if status is not None and status[1:] == ".4.7" and "returned '" in context:
        status = _attempt_status(status, context)
    relayed = _SES_DIAGNOSTIC.match(diagnostic) if family is None else None
    if relayed:
        # Amazon SES's own category, then the remote reply: the reply tells what failed, and
        # SES never says at which stage.
        family = families.AMAZONSES
    in_text = _reason_in_text(relayed.group(1) if relayed else diagnostic)
    code_reason = None if is_vague(status) else reason_from_status(status)
    if in_text is None and context and not code_reason:
        report_reason = reason_from_report(context)
        in_text = (report_reason, False) if report_reason else None
    if in_text is None:
        reason = (
            code_reason or reason_from_status(status) or ("expired" if delayed else "undefined")
        )
    elif in_text[1] and code_reason:
        reason = code_reason
    else:
        reason = in_text[0]
    msexch = families.msexch_reason(context) if family == families.EXCHANGE2003 else None
    if msexch and status is None:
        reason = msexch
    elif family == families.ZOHO and families.ZOHO_EXPIRED in diagnostic:
        reason = "expired"
    elif family in families.STAGE_EXPLICIT and reason in ("userunknown", GENERIC_UNKNOWN_USER):
        # The format names the stage (or never does): only a refusal at RCPT is the address.
        at_rcpt = families.command_of(family, diagnostic, context) == "RCPT"
        own_words = family == families.EXIM and not _ANY_REPLY_CODE.search(diagnostic)
        reason = (
            "userunknown" if at_rcpt or own_words or code_reason == "userunknown" else "filtered"
        )
    elif reason == GENERIC_UNKNOWN_USER:
        reason = _unknown_user_reason(diagnostic, context, code_reason)
    elif reason == "userunknown" and (code_reason == "filtered" or _DATA_STAGE.search(diagnostic)):
        reason = "filtered"
    if status is None and family == families.EXIM:
        status = _exim_status(reason, diagnostic, context)
        if status is not None and status.endswith(".0.901"):
            reason = "onhold"
    if status is None:
        status = pseudo_status(reason, temporary=_is_temporary(diagnostic))
    permanent = status.startswith("5")
    hard = reason in {"userunknown", "hasmoved"} or (reason in HARD_REASONS and permanent)
    return reason, status, hard and not delayed


def _exim_status(reason: str, diagnostic: str, context: str) -> str | None:
    """Exim's own reading of a failure without an enhanced status.

    A refusal after MAIL FROM is "on hold" until the wording says more: its code is the
    on-hold pseudo-code in the class of the remote reply. With no reply code at all, a full
    mailbox or a retry period run out (Exim's own sentences) were temporary failures.
    """
    reply_code = find_reply_code(diagnostic)
    if reply_code:
        if families.command_of(families.EXIM, diagnostic, context) == "MAIL":
            return f"{reply_code[0]}.0.901"
        return None
    if reason in ("expired", "mailboxfull"):
        return pseudo_status(reason, temporary=True)
    return None


_TEMPORARY_WORDING = re.compile(r"temporar|persistent", re.IGNORECASE)
_PERMANENT_WORDING = re.compile(r"permanent", re.IGNORECASE)


def _is_temporary(diagnostic: str) -> bool:
    """Whether a failure without an enhanced status takes the class-4 pseudo-code.

    As Sisimai decides it: the class of the remote reply code the diagnostic quotes, else its
    wording ("temporary", "persistent" vs "permanent"); a delay notice whose diagnostic says
    neither is classed permanent, like any failure (the notice's Action is not the measure).
    """
    reply_code = find_reply_code(diagnostic)
    if reply_code:
        return reply_code.startswith("4")
    return bool(_TEMPORARY_WORDING.search(diagnostic)) and not _PERMANENT_WORDING.search(diagnostic)


_RCPT_STAGE = re.compile(
    r"rcpt to|rcpt command|\[rcpt_to\]|smtp:rcpt|does not like recipient|after rcpt", re.IGNORECASE
)
_DATA_STAGE = re.compile(
    r"in reply to end of data|after end of data|>>> data\b|after data\b|data command",
    re.IGNORECASE,
)


# A bare reply "550 <a@b>: User unknown" (the whole diagnostic) names the address the server
# does not know: its RCPT reply. Relayed in a sentence ("... said: 550 <a@b>: ...") it may
# come from any stage, and MTAs that write such sentences name the stage when it was RCPT.
_NAMED_UNKNOWN = re.compile(
    r"^\s*[45]\d\d[ :-]+<[^<>\s@]+@[^<>\s]+>:? *"
    r"(?:user(?:name)? (?:is )?unknown|no such user|unknown user)",
    re.IGNORECASE,
)


# Any three-digit reply code or enhanced status, however punctuated ("550:", "550-5.1.1").
_ANY_REPLY_CODE = re.compile(r"(?<![\d.])[245](?:\d\d|\.\d{1,3}\.\d{1,3})(?![\d])")


def _unknown_user_reason(diagnostic: str, context: str, code_reason: str | None) -> str:
    """ "User unknown" wording means the address only when the server said it at RCPT time.

    A 5.1.x code, an RCPT-stage transcript or a reply naming the unknown address say so; said
    after the message content (DATA), with an x.2.0 code ("filtered"), or with no sign of when,
    it is a filter's verdict on the message: soft ("filtered"), as Sisimai reads it.
    """
    if code_reason == "userunknown":
        return "userunknown"
    if code_reason == "filtered" or _DATA_STAGE.search(diagnostic):
        return "filtered"
    if _RCPT_STAGE.search(diagnostic) or _NAMED_UNKNOWN.match(diagnostic):
        return "userunknown"
    if _DATA_STAGE.search(context):
        return "filtered"
    if _RCPT_STAGE.search(context):
        return "userunknown"
    if not _ANY_REPLY_CODE.search(diagnostic):
        # No server reply quoted: the delivery agent's own words ("no such user", "[User
        # unknown]"), which it writes about the recipient it could not deliver to.
        return "userunknown"
    return "filtered"


# A remote reply quoted inside an MTA's own summary: Amazon SES / WorkMail's "554 4.4.7 Message
# expired: ... <421 4.4.2 Connection timed out>" or "5.1.0 - Unknown address error 550-'5.7.1
# ... Access denied'". The remote server's code says what actually failed.
_SES_DIAGNOSTIC = re.compile(r"^\s*[245]\.\d{1,3}\.\d{1,3} - [^'\n]{1,120}? [245]\d\d-'(.+)'")
_QUOTED_REPLY_STATUS = re.compile(
    r"(?:[<'\"] ?[245]\d\d[ -]|[245]\d\d-')([245]\.\d{1,3}\.\d{1,3})(?![\d.]*\d)"
)
# Exchange's "Diagnostic information for administrators": each attempt's "returned '441 4.4.1 ...'".
_RETURNED_REPLY_STATUS = re.compile(r"returned '[245]\d\d[ -]([245]\.\d{1,3}\.\d{1,3})")


def _attempt_status(status: str, context: str) -> str:
    """For "delivery time expired" (x.4.7), the code of the problem met at the last attempts.

    RFC 3463 asks for that code rather than x.4.7 where possible; Exchange lists it among the
    remote servers' replies.
    """
    for found in _RETURNED_REPLY_STATUS.finditer(context):
        code = found.group(1)
        if code[0] == status[0] and code[1:] != ".4.7":
            return code
    return status


def _better_status(status: str | None, diagnostic: str) -> str | None:
    """The reported status, or the diagnostic's own code when the report's is missing or vague."""
    quoted = _QUOTED_REPLY_STATUS.search(diagnostic)
    if quoted and (status is None or quoted.group(1)[0] == status[0]):
        return quoted.group(1)
    in_text = find_status(diagnostic)
    if status is None:
        return in_text
    in_reply = find_status(diagnostic[:80])
    if in_text and status.endswith(".0.0") and in_text[0] == status[0]:
        return in_text
    if in_reply and in_reply[0] == status[0] and not in_reply.endswith(".0.0"):
        # The remote server's own code is more precise than the reporting MTA's summary
        # (Sendmail reports 4.4.7 or 5.1.1 for a "450 4.7.1" or "550 5.7.1" reply).
        return in_reply
    return status
