"""LLM providers behind one interface, and a resumable batch runner for them.

Edge-case generation (empathy.safety.edge_cases) and contextual questions in
data processing send chat requests through a provider chosen by name in
config: `offline` (deterministic templates, the default, no keys), `openai`,
`anthropic`, `ollama` (their official SDKs) or `empathy` (this project's own
server through its OpenAI-compatible route).

    from empathy.llm.providers import make_provider
    from empathy.llm.batch import run_batch
"""
