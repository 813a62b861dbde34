"""AI-written texts from the human ones: planning, prompts, LLM calls (cache, pacing, retries), cleaning, backends."""
