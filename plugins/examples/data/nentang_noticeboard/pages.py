"""The board's page in the web console: ``/t/{code}/console/p/noticeboard/``.

The kernel shows it (and its menu entry) only at units where the plugin is enabled, to people who
hold ``noticeboard.read`` there, after checking their session, the unit and a post's CSRF token.
Posting a notice needs ``noticeboard.post`` as well; everything goes through ``request.ctx``, bound
to the unit of the address, so the page cannot reach another unit's board.
"""

from __future__ import annotations

from nentang.sdk import ConsolePage, ConsoleRedirect, ConsoleRequest, ConsoleView, ValidationFailed
from nentang_noticeboard import board

READ = "noticeboard.read"
POST = "noticeboard.post"
#: The page's own words (the console's catalogue holds only the console's messages).
LABELS = {
    "vi": {"title": "Tiêu đề", "by": "Người đăng", "add": "Đăng tin", "empty": "Chưa có tin nào."},
    "en": {"title": "Title", "by": "Posted by", "add": "Post the notice", "empty": "No notices yet."},
}


def board_page(request: ConsoleRequest) -> ConsoleView | ConsoleRedirect:
    ctx, error, title = request.ctx, "", ""
    if request.method == "POST":
        ctx.require_permission(POST)  # a reader's post: a 403 page with the reason, nothing written
        title = request.form.get("title", "")
        try:
            board.post(ctx.session, title=title, posted_by=ctx.actor)
            ctx.audit("notice.post", ctx.tenant.code, {"length": len(title.strip())})
            return ConsoleRedirect("")  # 303 to the list: a reload never posts twice
        except ValidationFailed as exc:
            error = str(exc)
    rows = [(n.title, n.posted_by) for n in board.latest(ctx.session, limit=50)]
    values = {"rows": rows, "may_post": ctx.has_permission(POST), "error": error, "text": title}
    return ConsoleView("noticeboard.html", {**values, "labels": LABELS[request.locale]}, status=400 if error else 200)


def pages() -> list[ConsolePage]:
    title = {"vi": "Bảng tin", "en": "Notice board"}
    return [ConsolePage("", board_page, title, READ, methods=("GET", "POST"))]
