"""Make peft know FL-tuning. peft looks a method up by its ``PeftType`` member, an enum
of its own methods; registering one means adding a member. Its value is what
``adapter_config.json`` stores as ``peft_type``, and what peft's KeyError prints when a
process loads a saved adapter without having imported this package: so it says what
to import."""
from peft.mapping import (
    PEFT_TYPE_TO_CONFIG_MAPPING, PEFT_TYPE_TO_PREFIX_MAPPING, PEFT_TYPE_TO_TUNER_MAPPING,
)
from peft.utils import PeftType

IMPORT_LINE = 'import fl_tuning.torch.peft_method'
PEFT_TYPE_NAME = 'FL_TUNING (run `%s` first)' % IMPORT_LINE
PREFIX = 'fl_tuning_'


def enum_member(enum_class, value):
    """The member ``value`` of ``enum_class`` (a str-valued Enum), added if missing."""
    if value in enum_class._value2member_map_:
        return enum_class._value2member_map_[value]
    member = str.__new__(enum_class, value)
    member._name_ = member._value_ = value
    member.__objclass__ = enum_class
    type.__setattr__(enum_class, value, member)
    enum_class._member_map_[value] = member
    enum_class._value2member_map_[value] = member
    enum_class._member_names_.append(value)
    return member


PEFT_TYPE = enum_member(PeftType, PEFT_TYPE_NAME)


def register(config_class, model_class):
    """Put FL-tuning in peft's registries (what ``peft.utils.register_peft_method``
    does, which accepts only names its enum had when it was written)."""
    PEFT_TYPE_TO_CONFIG_MAPPING[PEFT_TYPE] = config_class
    PEFT_TYPE_TO_TUNER_MAPPING[PEFT_TYPE] = model_class
    PEFT_TYPE_TO_PREFIX_MAPPING[PEFT_TYPE] = PREFIX
