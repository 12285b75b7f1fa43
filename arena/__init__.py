"""The team arena: battles from everyone's votes, Bradley–Terry ratings with intervals, prompt sets."""
