"""After the march, in the browser: exports downloaded from the command and legal pages, and the
after-action report (docs/pages.md, "Exports" and "After-action report").

Both read through the same rules as REST: exports through fieldops/export_rows.py, the report
through fieldops/debrief.py, organizers only. Once the event's participants are purged nobody is
joined any more, so the report is also shown to a staff user of the admin who may view events:
by then it holds only counts and coarse times.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from fieldops import charts, errors, visibility
from fieldops.debrief import median, report_build
from fieldops.export_rows import DATASETS, may_export
from fieldops.export_rows import export_open as rows_open
from fieldops.exports import FORMATS, export_response
from fieldops.models import Event
from fieldops.schemas import EARLIEST, LATEST
from marshals.sessions import session_participant

MSG_BAD_TIME = "A time such as 2026-05-01T14:00 (in the event's time zone), or nothing."


def _time(text: str, *, time_zone: str, field: str) -> datetime | None:
    """A range bound typed on the command page: in the event's time zone unless it says."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise errors.ActionError.field(field, MSG_BAD_TIME) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(time_zone))
    if not EARLIEST <= moment < LATEST:
        raise errors.ActionError.field(field, MSG_BAD_TIME)
    return moment


def export_download(request: HttpRequest, slug: str) -> HttpResponse:
    """`?dataset=&format=&since=&until=&personal=1`: one dataset as a streamed file."""
    participant = session_participant(request.session, event_slug=slug)
    if participant is None:
        return render(request, "not_joined.html", status=403)
    dataset, fmt = request.GET.get("dataset", ""), request.GET.get("format", "csv")
    if dataset not in DATASETS or fmt not in FORMATS:
        return render(request, "pages/message.html", {"message": _("No such export.")},
                      status=404)  # fmt: skip
    if not may_export(participant, dataset):
        return render(request, "not_joined.html", status=403)
    time_zone = participant.event.time_zone
    try:
        since = _time(request.GET.get("since", ""), time_zone=time_zone, field="since")
        until = _time(request.GET.get("until", ""), time_zone=time_zone, field="until")
    except errors.ActionError as exc:
        return render(request, "pages/message.html", {"message": exc.message}, status=400)
    export = rows_open(participant=participant, dataset=dataset, since=since, until=until,
                       personal=request.GET.get("personal") == "1")  # fmt: skip
    return export_response(request, export, fmt)


def _report_event(request: HttpRequest, slug: str) -> Event | None:
    participant = session_participant(request.session, event_slug=slug)
    if participant is not None:
        return participant.event if visibility.may_read(participant, "report") else None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.has_perm("fieldops.view_event"):
        return Event.objects.filter(slug=slug).first()
    return None


def report(request: HttpRequest, slug: str) -> HttpResponse:
    """The after-action report: the day's timeline, a map, the debrief figures, when the data is
    purged; printable."""
    event = _report_event(request, slug)
    if event is None:
        return render(request, "not_joined.html", status=403)
    built = report_build(event=event)
    context = {
        "event": event,
        "report": built,
        "datasets": DATASETS,
        "formats": list(FORMATS),
        "map": charts.route_map(
            routes=built.map_routes,
            places=built.map_places,
            incidents=built.map_incidents,
            arrests=built.map_arrests,
            title=_("Map of the routes, incidents and arrests"),
        ),
        "arrest_chart": charts.bar_chart(
            bars=[(hour, people) for hour, _n, people in built.arrests_per_hour],
            title=_("People arrested per hour"),
        ),
        "activity_chart": charts.bar_chart(
            bars=list(built.activity_per_hour), title=_("Journal entries per hour")
        ),
        "ack_chart": charts.bar_chart(
            bars=[(f"v{r.version}", _median(r.delays)) for r in built.routes],
            title=_("Median minutes to acknowledge each route version"),
            unit=" min",
        ),
    }
    return render(request, "pages/report.html", context)


def _median(delays: list[tuple[str, float]]) -> float:
    return median([m for _, m in delays]) or 0
