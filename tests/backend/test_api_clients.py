"""Real client libraries' structured output against the API, as their users write it: LangChain's
`with_structured_output` and pydantic-ai's native output, with the tiny random-weight model (it
cannot write JSON on its own, so the answer parses only if the schema reaches the grammar)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tests.backend.conftest import InProcessRealBackend


class Pet(BaseModel):
    """A pet, as the user asked for it."""

    name: str = Field(max_length=10)
    legs: int
    indoor: bool


def test_langchain_with_structured_output_gets_a_validated_model(
    backend: InProcessRealBackend,
) -> None:
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(
        model="tiny",
        base_url=f"{backend.url}/v1",
        api_key=backend.token,  # type: ignore[arg-type]
        max_tokens=200,  # type: ignore[call-arg]
        seed=3,
        max_retries=0,
    )
    pet = chat.with_structured_output(Pet).invoke("Describe a pet.")
    assert isinstance(pet, Pet)


def test_pydantic_ai_native_output_gets_a_validated_model(backend: InProcessRealBackend) -> None:
    from pydantic_ai import Agent, NativeOutput
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider = OpenAIProvider(base_url=f"{backend.url}/v1", api_key=backend.token)
    model = OpenAIChatModel("tiny", provider=provider)
    agent = Agent(model, output_type=NativeOutput(Pet), retries=0)
    result = agent.run_sync("Describe a pet.", model_settings={"max_tokens": 200, "seed": 3})
    assert isinstance(result.output, Pet)
