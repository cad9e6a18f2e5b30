from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tensor(_message.Message):
    __slots__ = ("shape", "dtype", "data")
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: str
    data: bytes
    def __init__(self, shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class ActRequest(_message.Message):
    __slots__ = ("observations", "sample", "seed")
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    observations: Tensor
    sample: bool
    seed: int
    def __init__(self, observations: _Optional[_Union[Tensor, _Mapping]] = ..., sample: bool = ..., seed: _Optional[int] = ...) -> None: ...

class ActResponse(_message.Message):
    __slots__ = ("actions", "logits", "value", "checkpoint_step")
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    LOGITS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_STEP_FIELD_NUMBER: _ClassVar[int]
    actions: Tensor
    logits: Tensor
    value: Tensor
    checkpoint_step: int
    def __init__(self, actions: _Optional[_Union[Tensor, _Mapping]] = ..., logits: _Optional[_Union[Tensor, _Mapping]] = ..., value: _Optional[_Union[Tensor, _Mapping]] = ..., checkpoint_step: _Optional[int] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("source", "env_id", "network", "observation_shape", "observation_dtype", "num_actions", "checkpoint_step", "checkpoint_path", "checkpoint_age_s", "following", "run_state", "env_frames", "learner_updates", "wall_seconds", "episode_return_mean_last100", "stopped_because", "seconds_since_report", "requests_served", "server_uptime_s", "max_batch_size")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ENV_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    OBSERVATION_SHAPE_FIELD_NUMBER: _ClassVar[int]
    OBSERVATION_DTYPE_FIELD_NUMBER: _ClassVar[int]
    NUM_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_STEP_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_PATH_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_AGE_S_FIELD_NUMBER: _ClassVar[int]
    FOLLOWING_FIELD_NUMBER: _ClassVar[int]
    RUN_STATE_FIELD_NUMBER: _ClassVar[int]
    ENV_FRAMES_FIELD_NUMBER: _ClassVar[int]
    LEARNER_UPDATES_FIELD_NUMBER: _ClassVar[int]
    WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EPISODE_RETURN_MEAN_LAST100_FIELD_NUMBER: _ClassVar[int]
    STOPPED_BECAUSE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_SINCE_REPORT_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_SERVED_FIELD_NUMBER: _ClassVar[int]
    SERVER_UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    source: str
    env_id: str
    network: str
    observation_shape: _containers.RepeatedScalarFieldContainer[int]
    observation_dtype: str
    num_actions: int
    checkpoint_step: int
    checkpoint_path: str
    checkpoint_age_s: float
    following: bool
    run_state: str
    env_frames: int
    learner_updates: int
    wall_seconds: float
    episode_return_mean_last100: float
    stopped_because: str
    seconds_since_report: float
    requests_served: int
    server_uptime_s: float
    max_batch_size: int
    def __init__(self, source: _Optional[str] = ..., env_id: _Optional[str] = ..., network: _Optional[str] = ..., observation_shape: _Optional[_Iterable[int]] = ..., observation_dtype: _Optional[str] = ..., num_actions: _Optional[int] = ..., checkpoint_step: _Optional[int] = ..., checkpoint_path: _Optional[str] = ..., checkpoint_age_s: _Optional[float] = ..., following: bool = ..., run_state: _Optional[str] = ..., env_frames: _Optional[int] = ..., learner_updates: _Optional[int] = ..., wall_seconds: _Optional[float] = ..., episode_return_mean_last100: _Optional[float] = ..., stopped_because: _Optional[str] = ..., seconds_since_report: _Optional[float] = ..., requests_served: _Optional[int] = ..., server_uptime_s: _Optional[float] = ..., max_batch_size: _Optional[int] = ...) -> None: ...

class WatchMetricsRequest(_message.Message):
    __slots__ = ("from_start",)
    FROM_START_FIELD_NUMBER: _ClassVar[int]
    from_start: bool
    def __init__(self, from_start: bool = ...) -> None: ...

class MetricSnapshot(_message.Message):
    __slots__ = ("sequence", "wall_seconds", "env_frames", "learner_updates", "values")
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ENV_FRAMES_FIELD_NUMBER: _ClassVar[int]
    LEARNER_UPDATES_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    wall_seconds: float
    env_frames: int
    learner_updates: int
    values: _containers.ScalarMap[str, float]
    def __init__(self, sequence: _Optional[int] = ..., wall_seconds: _Optional[float] = ..., env_frames: _Optional[int] = ..., learner_updates: _Optional[int] = ..., values: _Optional[_Mapping[str, float]] = ...) -> None: ...
