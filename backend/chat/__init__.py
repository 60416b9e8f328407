"""The chat turn as a use case: prepare it (`turn`), run it and store the reply (`runner`).

Nothing here knows HTTP: the conversation and OpenAI routes, and the tests, call it directly.
"""
