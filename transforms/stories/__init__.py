"""Stories stage: same-event stories of the non-copy articles (GroupStories), across runs (incremental runs)."""
from transforms.stories.config import StoryConfig
from transforms.stories.transform import GroupStories

__all__ = ["GroupStories", "StoryConfig"]
