"""English dates as Mailroom has always printed them ("Dec 2, 2026", "Dec 2"), where Django's
own would abbreviate with a period ("Dec. 2, 2026") or spell the month ("December 2"). Other
languages keep Django's formats (Korean: "2026년 12월 2일", "12월 2일")."""

DATE_FORMAT = "M j, Y"
MONTH_DAY_FORMAT = "M j"
