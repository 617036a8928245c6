"""Copies stage: exact and near copies within a run (FindCopies) and of earlier runs' articles (MarkEarlierCopies)."""
from transforms.copies.config import CopyConfig
from transforms.copies.earlier import MarkEarlierCopies
from transforms.copies.transform import FindCopies

__all__ = ["CopyConfig", "FindCopies", "MarkEarlierCopies"]
