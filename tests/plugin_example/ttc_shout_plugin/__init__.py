"""A third-party plugin: a component that upper-cases candidates, and a task format."""

from ttc import Component, Effect, TaskFormat, hookimpl


class Shout(Component):
    """Upper-cases every candidate (a new candidate whose parent is the old one)."""

    name = "shout"
    kind = "rewriter"
    effect = Effect.PRODUCES
    needs_candidates = True
    uses_model = False

    async def run(self, state, ctx):
        return state.with_pool(
            ctx.candidate(c.text.upper(), parents=(c.id,), sample_index=i)
            for i, c in enumerate(state.pool)
        )


class Yes(TaskFormat):
    name = "yes_no"

    def extract(self, text):
        lowered = text.lower()
        return "yes" if "yes" in lowered else ("no" if "no" in lowered else None)


@hookimpl
def ttc_register_components(register):
    register(Shout)


@hookimpl
def ttc_register_tasks(register):
    register(Yes)
