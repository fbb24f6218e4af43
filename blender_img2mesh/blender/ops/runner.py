"""What operators that run a worker job share: in a window the job runs modally, polled
on a timer (Esc cancels it), redrawing the areas that show its progress; in background
mode (``blender -b``, where timers never fire) ``invoke`` falls back to ``execute``.

A subclass gives ``_start(context) -> bool`` (makes ``self._runner``, reports problems)
and ``_finish(context) -> {'FINISHED'} | {'CANCELLED'}``, plus its own ``execute``."""

import bpy


def redraw(context, area_types):
    wm = getattr(context, "window_manager", None)
    for window in (wm.windows if wm else ()):
        for area in window.screen.areas:
            if area.type in area_types:
                area.tag_redraw()


def free(cls, running, why):
    """An operator's ``poll``: False while ``running`` is not None, saying ``why`` (the
    greyed-out button's tooltip, Blender 3.0+)."""
    if running is None:
        return True
    if hasattr(cls, "poll_message_set"):
        cls.poll_message_set(why)
    return False


class RunnerOperator:
    _timer = None
    _runner = None
    #: areas that draw the job's progress
    redraw_areas = ("VIEW_3D",)

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        if not self._start(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        redraw(context, self.redraw_areas)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self._runner.cancel()
        elif event.type != "TIMER":
            return {"PASS_THROUGH"}
        done = self._runner.tick()
        redraw(context, self.redraw_areas)
        if not done:
            return {"RUNNING_MODAL"}
        context.window_manager.event_timer_remove(self._timer)
        return self._finish(context)

    def cancel(self, context):  # Blender ends the modal (file load, quit)
        if self._runner is not None and not self._runner.finished:
            self._runner.cancel()
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
