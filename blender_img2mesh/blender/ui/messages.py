"""One line per message in the panel: the line shows what fits the sidebar (the longest
of the message's forms that fits, else its shortest cut with an ellipsis), its tooltip
and a click (a popup) the whole text -- which the Info log has too.  Nothing wraps over
twenty lines, so Advanced and Batch stay in view."""

import bpy
from bpy.props import StringProperty

from . import text as ui_text


class Message:
    """``icon``; ``forms``: the line, from the most to the least detailed; ``full``: all
    of it (the tooltip and the popup; default: the first form)."""

    __slots__ = ("icon", "forms", "full")

    def __init__(self, icon, forms, full=None):
        self.icon = icon
        self.forms = (forms,) if isinstance(forms, str) else tuple(forms)
        self.full = " ".join(str(full if full is not None else self.forms[0]).split())

    def line(self, width):
        """The line shown in ``width`` px."""
        return ui_text.fit(self.forms, width)

    def __repr__(self):
        return f"Message({self.icon!r}, {self.forms!r}, {self.full!r})"


#: the messages drawn last, by key: what a line's tooltip and popup show
drawn = {}


class IMG2MESH_OT_message(bpy.types.Operator):
    """A message of the Img2Mesh panel: click for all of it"""

    bl_idname = "img2mesh.message"
    bl_label = "Message"
    bl_options = {"INTERNAL"}

    key: StringProperty(options={"HIDDEN", "SKIP_SAVE"})

    @classmethod
    def description(cls, context, properties):  # the tooltip: the whole message
        message = drawn.get(properties.key)
        return message.full if message is not None else cls.__doc__

    def invoke(self, context, event):
        if self.key not in drawn:
            return {"CANCELLED"}
        return context.window_manager.invoke_popup(self, width=POPUP_WIDTH)

    def draw(self, context):
        message = drawn.get(self.key)
        if message is None:
            return
        col = self.layout.column(align=True)
        for i, line in enumerate(ui_text.lines_for(message.full, POPUP_WIDTH - 50)):
            col.label(text=line, icon=message.icon if i == 0 else "BLANK1")

    def execute(self, context):
        return {"FINISHED"}


#: the popup's width, px at scale 1
POPUP_WIDTH = 420


def draw_message(layout, context, key, message, inset=ui_text.LINE_INSET, width=None):
    """``message`` as one line of ``layout`` (left-aligned, its icon first): a button
    without a frame whose tooltip, and popup, hold the whole text.  The line is a
    region's line less ``inset`` wide, or ``width`` px (at scale 1: a column's)."""
    drawn[key] = message
    row = layout.row()
    row.alignment = "LEFT"
    if width is None:
        width = ui_text.line_width(context, inset)
    op = row.operator(IMG2MESH_OT_message.bl_idname, text=message.line(width),
                      icon=message.icon, emboss=False)
    op.key = key
    return row


CLASSES = (IMG2MESH_OT_message,)
