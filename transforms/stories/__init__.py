"""Stories stage: same-event stories of the non-copy articles (GroupStories), across runs with --only_new."""
from transforms.stories.config import StoryConfig
from transforms.stories.transform import GroupStories

__all__ = ["GroupStories", "StoryConfig"]
