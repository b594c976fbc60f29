"""Training judges with TRL: data, rewards, SFT warm-start and GRPO."""
