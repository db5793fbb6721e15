"""State machine definitions: the request each Task sends, resolved from a sample input, checked
against its API's model; the allow-list of service integrations; and the asl-validator package.

A Task's `Parameters` are only known once the machine runs: `"TrainingJobName.$":
"States.Format('{}-{}', $.run.job_prefix, ...)"` is a JSONPath or an intrinsic function evaluated
against the state's input. `flow` computes those inputs: it starts from a sample execution input
and follows the machine, applying each state's InputPath, Parameters/Result, ResultSelector,
ResultPath and OutputPath as Step Functions does, with a sample result for each integration
(`SAMPLE_RESULTS`, shaped like the API's answer) and a sample error for each Catch. Each Task is
resolved once for every distinct input that reaches it.

Choices are evaluated, and the way the sample data takes is followed as *plausible*; every other
branch is followed too, as *implausible*, because a Task's request must be valid whichever way a
run gets there (the sample's metric may miss the threshold; a real run's will not). A path that
matches nothing is a problem (in AWS an uncatchable States.Runtime error) wherever a Task reads
it, and in other states on plausible ways only: on an implausible way a Pass state may well read
what only the other branch provides (a retry counter past its last attempt). Also problems: a
Task no sample input reaches, an integration not on the allow-list, and an intrinsic function
or Choice operator this evaluator does not know (add it, never skip).
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import re
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.model import OperationNotFoundError
from jsonpath_ng.ext import parse as _parse_path

from automation.guardrails import shapes

# --- the integrations the platform's state machines may use ----------------------------------------

# Optimized integrations (Step Functions Developer Guide, "Integrating services"): the resource
# after `arn:<partition>:states:::` -> the API operation its Parameters are the request of.
OPTIMIZED_INTEGRATIONS: dict[str, tuple[str, str]] = {
    "sagemaker:createTrainingJob": ("sagemaker", "CreateTrainingJob"),
    "sagemaker:createTrainingJob.sync": ("sagemaker", "CreateTrainingJob"),
    "sagemaker:createTransformJob.sync": ("sagemaker", "CreateTransformJob"),
    "sagemaker:createProcessingJob.sync": ("sagemaker", "CreateProcessingJob"),
    "sagemaker:createModel": ("sagemaker", "CreateModel"),
    "sagemaker:createEndpointConfig": ("sagemaker", "CreateEndpointConfig"),
    "sagemaker:createEndpoint": ("sagemaker", "CreateEndpoint"),
    "sagemaker:updateEndpoint": ("sagemaker", "UpdateEndpoint"),
    "sns:publish": ("sns", "Publish"),
    "events:putEvents": ("events", "PutEvents"),
}
# AWS SDK integrations (`aws-sdk:<service>:<action>`) of these services: the service's name in the
# integration (the SDK's) -> botocore's. The action is the API operation in camelCase.
SDK_SERVICES = {"sagemaker": "sagemaker", "sns": "sns", "eventbridge": "events", "cloudwatch": "cloudwatch"}

_INTEGRATION_ARN = re.compile(r"arn:(?P<partition>[a-z-]+):states:::(?P<integration>.+)")


def integration_operation(resource: str, partition: str) -> tuple[str, str] | str:
    """The (service, operation) a Task's Resource calls, or why it is not allowed."""
    match = _INTEGRATION_ARN.fullmatch(resource or "")
    if not match:
        return f"{resource!r} is not a service integration ARN (arn:{partition}:states:::...)"
    if match["partition"] != partition:
        return f"{resource!r} names partition {match['partition']!r}; the stack deploys to {partition!r}"
    integration = match["integration"]
    if integration in OPTIMIZED_INTEGRATIONS:
        return OPTIMIZED_INTEGRATIONS[integration]
    parts = integration.split(":")
    if len(parts) == 3 and parts[0] == "aws-sdk" and parts[1] in SDK_SERVICES:
        service, operation = SDK_SERVICES[parts[1]], parts[2][0].upper() + parts[2][1:]
        try:
            shapes.operation(service, operation)
        except OperationNotFoundError:
            return f"{integration!r}: {service} has no operation {operation}"
        return service, operation
    return f"{integration!r} is not an allowed integration (guardrails/states.py OPTIMIZED_INTEGRATIONS, SDK_SERVICES)"


# --- sample results: what each integration hands back ----------------------------------------------

SAMPLE_TIME = "2030-01-01T00:00:00.000Z"


def _training_job(request: Mapping[str, Any]) -> dict[str, Any]:
    """A completed job as DescribeTrainingJob describes it (what `.sync` returns)."""
    name = request.get("TrainingJobName", "job")
    output = (request.get("OutputDataConfig") or {}).get("S3OutputPath", "s3://bucket/prefix")
    metrics = (request.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or [{"Name": "validation:auc"}]
    return {
        "TrainingJobName": name, "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "TrainingJobStatus": "Completed", "SecondaryStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": f"{output}/{name}/output/model.tar.gz"},
        "HyperParameters": request.get("HyperParameters") or {},
        "FinalMetricDataList": [{"MetricName": m["Name"], "Value": 0.5, "Timestamp": SAMPLE_TIME} for m in metrics],
    }


SAMPLE_RESULTS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "sagemaker:createTrainingJob.sync": _training_job,
    "sagemaker:createTrainingJob": lambda r: {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/job"},
    "sagemaker:createModel": lambda r: {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/model"},
    "sagemaker:createEndpointConfig": lambda r: {"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/c"},
    "sagemaker:createEndpoint": lambda r: {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e"},
    "sagemaker:updateEndpoint": lambda r: {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e"},
    "aws-sdk:sagemaker:createModelPackage": lambda r: {
        "ModelPackageArn": f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{r.get('ModelPackageGroupName', 'g')}/1"},
    "sns:publish": lambda r: {"MessageId": "00000000-0000-0000-0000-000000000000"},
    "events:putEvents": lambda r: {"FailedEntryCount": 0, "Entries": [{"EventId": "00000000-0000-0000-0000-000000000000"}]},
}


def _sample_result(integration: str, request: Mapping[str, Any]) -> Any:
    maker = SAMPLE_RESULTS.get(integration)
    return maker(request) if maker else {}  # an AWS SDK call with no sample answers an empty object


# --- JSONPath and intrinsic functions ------------------------------------------------------------

class UnresolvedError(Exception):
    """A path that matches nothing, or an intrinsic function that cannot be evaluated."""


@functools.cache
def parse_path(expression: str) -> Any:
    """jsonpath_ng's parser is slow (a PLY grammar): each distinct path is parsed once."""
    return _parse_path(expression)


_INDEFINITE = re.compile(r"\[\*\]|\[\?|\.\.|\[[^\]]*[:,][^\]]*\]")


def read_path(path: str, data: Any, context: Mapping[str, Any]) -> Any:
    """A reference path's value: one value, or a list for paths with wildcards or filters."""
    document, expression = (context, path[1:]) if path.startswith("$$") else (data, path)
    try:
        found = [match.value for match in parse_path(expression).find(document)]
    except Exception as error:  # jsonpath_ng raises bare Exceptions for bad syntax
        raise UnresolvedError(f"{path!r} is not a JSONPath this evaluator reads ({error})") from None
    if _INDEFINITE.search(expression.replace("['", "").replace("']", "")):
        return found
    if not found:
        raise UnresolvedError(f"{path!r} matches nothing in the state's input")
    return found[0]


def _call(text: str, data: Any, context: Mapping[str, Any]) -> Any:
    parser = _IntrinsicParser(text, data, context)
    value = parser.value()
    parser.end()
    return value


class _IntrinsicParser:
    """Evaluates `States.Name(arg, ...)`: arguments are quoted strings, numbers, booleans, null,
    paths, or nested intrinsic functions (Step Functions Developer Guide, "Intrinsic functions")."""

    def __init__(self, text: str, data: Any, context: Mapping[str, Any]):
        self.text, self.at, self.data, self.context = text, 0, data, context

    def end(self) -> None:
        self._skip()
        if self.at != len(self.text):
            raise UnresolvedError(f"unexpected text after position {self.at} in {self.text!r}")

    def _skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at] == " ":
            self.at += 1

    def value(self) -> Any:
        self._skip()
        rest = self.text[self.at:]
        if rest.startswith("States."):
            return self._function()
        if rest.startswith("'"):
            return self._string()
        if rest.startswith("$"):
            return read_path(self._path(), self.data, self.context)
        literal = re.match(r"-?\d+(\.\d+)?|true|false|null", rest)
        if not literal:
            raise UnresolvedError(f"cannot read an argument at {rest!r}")
        self.at += literal.end()
        return json.loads(literal.group())

    def _function(self) -> Any:
        name = re.match(r"States\.[A-Za-z0-9]+", self.text[self.at:]).group()
        self.at += len(name)
        if self.text[self.at:self.at + 1] != "(":
            raise UnresolvedError(f"{name} without arguments")
        self.at += 1
        arguments: list[Any] = []
        self._skip()
        while self.text[self.at:self.at + 1] != ")":
            arguments.append(self.value())
            self._skip()
            if self.text[self.at:self.at + 1] == ",":
                self.at += 1
            elif self.text[self.at:self.at + 1] != ")":
                raise UnresolvedError(f"expected ',' or ')' at {self.text[self.at:]!r}")
        self.at += 1
        function = INTRINSICS.get(name)
        if function is None:
            raise UnresolvedError(f"{name} is not an intrinsic function this evaluator knows (guardrails/states.py INTRINSICS)")
        return function(*arguments)

    def _string(self) -> str:
        self.at += 1
        out = []
        while self.at < len(self.text) and self.text[self.at] != "'":
            if self.text[self.at] == "\\":
                self.at += 1
                out.append("\\" + self.text[self.at] if self.text[self.at] in "{}" else self.text[self.at])
            else:
                out.append(self.text[self.at])
            self.at += 1
        self.at += 1
        return "".join(out)

    def _path(self) -> str:
        start, depth, quote = self.at, 0, False
        while self.at < len(self.text):
            char = self.text[self.at]
            if char == "'":
                quote = not quote
            elif not quote and char in "[(":
                depth += 1
            elif not quote and char in "])":
                if depth == 0:
                    break
                depth -= 1
            elif not quote and depth == 0 and char == ",":
                break
            self.at += 1
        return self.text[start:self.at].strip()


def _format(template: str, *arguments: Any) -> str:
    pieces = re.split(r"(?<!\\)\{\}", template)
    if len(pieces) - 1 != len(arguments):
        raise UnresolvedError(f"States.Format: {len(pieces) - 1} placeholders, {len(arguments)} arguments")
    shown = [a if isinstance(a, str) else json.dumps(a) for a in arguments]
    out = pieces[0]
    for argument, piece in zip(shown, pieces[1:], strict=True):
        out += argument + piece
    return out.replace("\\{", "{").replace("\\}", "}")


def _array_get_item(array: list, index: int) -> Any:
    if not isinstance(array, list) or not 0 <= index < len(array):
        raise UnresolvedError(f"States.ArrayGetItem: index {index} outside {array!r}")
    return array[index]


INTRINSICS: dict[str, Callable[..., Any]] = {
    "States.Format": _format,
    "States.StringToJson": json.loads,
    "States.JsonToString": lambda value: json.dumps(value, separators=(",", ":")),
    "States.Array": lambda *items: list(items),
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayContains": lambda array, value: value in array,
    "States.ArrayLength": len,
    "States.ArrayUnique": lambda array: list(dict.fromkeys(json.dumps(i) for i in array)),
    "States.ArrayRange": lambda first, last, step: list(range(first, last + 1, step)),
    "States.ArrayPartition": lambda array, size: [array[i:i + size] for i in range(0, len(array), size)],
    "States.JsonMerge": lambda a, b, deep=False: {**a, **b},
    "States.MathAdd": lambda a, b: a + b,
    "States.MathRandom": lambda low, high, seed=None: low,
    "States.Hash": lambda data, algorithm: hashlib.new(algorithm.replace("-", "").lower(), str(data).encode()).hexdigest(),
    "States.UUID": lambda: "00000000-0000-4000-8000-000000000000",
    "States.Base64Encode": lambda text: base64.b64encode(text.encode()).decode(),
    "States.Base64Decode": lambda text: base64.b64decode(text).decode(),
    "States.StringSplit": lambda text, separators: [p for p in re.split(f"[{re.escape(separators)}]", text) if p],
}


def resolve(template: Any, data: Any, context: Mapping[str, Any]) -> Any:
    """A payload template (Parameters, ResultSelector, ItemSelector) against a state's input."""
    if isinstance(template, dict):
        resolved = {}
        for key, value in template.items():
            if key.endswith(".$"):
                resolved[key[:-2]] = _dynamic(value, data, context)
            else:
                resolved[key] = resolve(value, data, context)
        return resolved
    if isinstance(template, list):
        return [resolve(item, data, context) for item in template]
    return template


def _dynamic(value: Any, data: Any, context: Mapping[str, Any]) -> Any:
    if not isinstance(value, str):
        raise UnresolvedError(f"{value!r} is neither a path nor an intrinsic function")
    if value.startswith("States."):
        return _call(value, data, context)
    if value.startswith("$"):
        return read_path(value, data, context)
    raise UnresolvedError(f"{value!r} is neither a path nor an intrinsic function")


def _select(path: str | None, data: Any, context: Mapping[str, Any], missing: Any = None) -> Any:
    """InputPath/OutputPath: `$` when absent, an empty object when null."""
    if path is None:
        return {} if missing is None else missing
    return read_path(path, data, context)


def _place(data: Any, result: Any, result_path: Any) -> Any:
    """ResultPath: `$` replaces the input, null keeps it, `$.a.b` sets the field (made if absent)."""
    if result_path is None:
        return data
    if result_path == "$":
        return result
    if not isinstance(data, dict):
        raise UnresolvedError(f"ResultPath {result_path!r} needs an object as input, got {data!r}")
    placed = copy.deepcopy(data)
    target = placed
    *parents, last = re.findall(r"\.([A-Za-z0-9_]+)|\['([^']+)'\]", result_path[1:])
    for plain, quoted in parents:
        target = target.setdefault(plain or quoted, {})
    target[last[0] or last[1]] = result
    return placed


# --- the flow -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskRequest:
    state: str  # the state's place in the definition, e.g. "Train" or "Find.ItemProcessor.Check"
    resource: str
    service: str
    operation: str
    params: dict[str, Any]


@dataclass
class Flow:
    """What following a definition from its sample inputs found."""

    requests: list[TaskRequest] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tasks: set[str] = field(default_factory=set)  # every Task state of the definition
    reached: set[str] = field(default_factory=set)  # the Task states a sample input reached

    def add_problem(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)


# How often an implausible way may follow one edge (from -> to) with new data: enough for one way
# per configured model through the states they share, few enough that loops (a retry counter
# that changes on every turn) and the fan-in of every outcome into one Notify state stay cheap.
# Plausible ways are followed whenever their data is new. And a bound on steps per sample input.
IMPLAUSIBLE_VISITS_PER_EDGE = 8
STEPS_PER_INPUT = 20000


def flow(definition: Mapping[str, Any], sample_inputs: Iterable[Any], partition: str = "aws",
         machine: str = "machine") -> Flow:
    """Every Task request of `definition` for the sample execution inputs, and every problem."""
    found = Flow()
    _collect_tasks(definition, "", found.tasks)
    samples = list(sample_inputs)
    if not samples:
        found.add_problem(f"{machine}: no sample input, so no Task request can be resolved")
    for sample in samples:
        context = {"Execution": {"Id": f"arn:{partition}:states:us-east-1:123456789012:execution:{machine}:sample",
                                 "Input": sample, "Name": "sample", "StartTime": SAMPLE_TIME,
                                 "RoleArn": f"arn:{partition}:iam::123456789012:role/sample"},
                   "StateMachine": {"Id": f"arn:{partition}:states:us-east-1:123456789012:stateMachine:{machine}",
                                    "Name": machine},
                   "State": {"EnteredTime": SAMPLE_TIME, "Name": "", "RetryCount": 0},
                   "Task": {"Token": "sample-task-token"}}
        _Walker(found, partition, context).scope(definition, "", sample)
    seen: set[str] = set()
    unique = []
    for request in found.requests:
        key = json.dumps([request.state, request.params], sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            unique.append(request)
    found.requests = unique
    for task in sorted(found.tasks - found.reached):
        found.add_problem(f"{machine}.{task}: no sample input reaches this Task, so its request is unchecked")
    return found


def _collect_tasks(scope: Mapping[str, Any], prefix: str, tasks: set[str]) -> None:
    for name, state in (scope.get("States") or {}).items():
        where = f"{prefix}{name}"
        if state.get("Type") == "Task":
            tasks.add(where)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            _collect_tasks(processor, f"{where}.ItemProcessor.", tasks)
        for index, branch in enumerate(state.get("Branches") or []):
            _collect_tasks(branch, f"{where}.Branches[{index}].", tasks)


class _Walker:
    def __init__(self, found: Flow, partition: str, context: dict[str, Any]):
        self.found, self.partition, self.context = found, partition, context

    def scope(self, scope: Mapping[str, Any], prefix: str, data: Any, plausible: bool = True,
              first_output_only: bool = False) -> list[Any]:
        """Follow one States scope; the outputs of the end states reached, plausible ones first."""
        states = scope.get("States") or {}
        queue: deque[tuple[str | None, str, Any, bool]] = deque([(None, scope.get("StartAt"), data, plausible)])
        seen: set[str] = set()
        edges: dict[tuple[str | None, str], int] = {}
        outputs: list[tuple[bool, Any]] = []
        steps = 0
        while queue and steps < STEPS_PER_INPUT:
            came_from, name, state_input, likely = queue.popleft()
            steps += 1
            state = states.get(name)
            if state is None:
                self.found.add_problem(f"{prefix}{name}: not a state of its scope")
                continue
            key = json.dumps([name, state_input, likely], sort_keys=True, default=str)
            if key in seen or (not likely and edges.get((came_from, name), 0) >= IMPLAUSIBLE_VISITS_PER_EDGE):
                continue
            seen.add(key)
            edges[came_from, name] = edges.get((came_from, name), 0) + (not likely)
            try:
                following, output = self._state(state, f"{prefix}{name}", state_input, likely)
            except UnresolvedError as problem:
                if likely or state.get("Type") == "Task":
                    self.found.add_problem(f"{prefix}{name}: {problem}")
                continue
            if output is not _NO_OUTPUT:
                outputs.append((likely, output))
                if first_output_only and likely:
                    return [output]
            queue.extend((name, *step) for step in following)
        if queue:
            self.found.add_problem(f"{prefix or 'definition'}: more than {STEPS_PER_INPUT} steps for one sample input")
        return [output for likely, output in sorted(outputs, key=lambda pair: not pair[0])]

    def _state(self, state: Mapping[str, Any], where: str, raw: Any,
               likely: bool) -> tuple[list[tuple[str, Any, bool]], Any]:
        """The (next state, its input, plausible) it leads to, and its output if it ends the scope."""
        kind = state.get("Type")
        self.context["State"]["Name"] = where.rsplit(".", 1)[-1]
        if kind == "Choice":
            return self._choice(state, raw, likely), _NO_OUTPUT
        if kind in ("Succeed", "Fail"):
            return [], raw if kind == "Succeed" else _NO_OUTPUT
        effective = _select(state.get("InputPath", "$"), raw, self.context)
        catches: list[tuple[str, Any, bool]] = []
        if kind == "Task":
            result, catches = self._task(state, where, effective, raw, likely)
        elif kind == "Map":
            result = self._map(state, where, effective, likely)
        elif kind == "Parallel":
            result = [(self.scope(branch, f"{where}.Branches[{i}].", effective, likely, True) or [{}])[0]
                      for i, branch in enumerate(state.get("Branches", []))]
        elif kind == "Pass":
            result = (resolve(state["Parameters"], effective, self.context) if "Parameters" in state
                      else state.get("Result", effective))
        else:  # Wait
            result = effective
        if kind in ("Task", "Map", "Parallel") and "ResultSelector" in state:
            result = resolve(state["ResultSelector"], result, self.context)
        output = _place(raw, result, state.get("ResultPath", "$")) if kind != "Wait" else raw
        output = _select(state.get("OutputPath", "$"), output, self.context)
        if state.get("End"):
            return catches, output
        return [(state["Next"], output, likely), *catches], _NO_OUTPUT

    def _choice(self, state: Mapping[str, Any], raw: Any, likely: bool) -> list[tuple[str, Any, bool]]:
        """Every branch; only the one the data takes is plausible (and only if the way here was)."""
        taken = None
        for rule in state.get("Choices", []):
            if taken is None and choice_rule(rule, raw, self.context):
                taken = rule
        following = [(rule["Next"], raw, likely and rule is taken) for rule in state.get("Choices", [])]
        if "Default" in state:
            following.append((state["Default"], raw, likely and taken is None))
        return following

    def _task(self, state: Mapping[str, Any], where: str, effective: Any, raw: Any,
              likely: bool) -> tuple[Any, list[tuple[str, Any, bool]]]:
        self.found.reached.add(where)
        resource = state.get("Resource", "")
        target = integration_operation(resource, self.partition)
        if isinstance(target, str):
            raise UnresolvedError(target)
        params = resolve(state.get("Parameters", {}), effective, self.context)
        self.found.requests.append(TaskRequest(where, resource, *target, params))
        integration = resource.split(":::", 1)[1]
        catches = []
        for catcher in state.get("Catch", []):
            error = {"Error": catcher["ErrorEquals"][0].replace("States.ALL", "States.TaskFailed"),
                     "Cause": "a sample failure (not a throttle, not a server error)"}
            catches.append((catcher["Next"], _place(raw, error, catcher.get("ResultPath", "$")), likely))
        return _sample_result(integration, params), catches

    def _map(self, state: Mapping[str, Any], where: str, effective: Any, likely: bool) -> list[Any]:
        items = read_path(state.get("ItemsPath", "$"), effective, self.context)
        if not isinstance(items, list):
            raise UnresolvedError(f"ItemsPath {state.get('ItemsPath', '$')!r} is not an array: {items!r}")
        processor = state.get("ItemProcessor") or state.get("Iterator") or {}
        selector = state.get("ItemSelector") or state.get("Parameters")
        results = []
        for index, item in enumerate(items):
            self.context["Map"] = {"Item": {"Index": index, "Value": item}}
            item_input = resolve(selector, effective, self.context) if selector else item
            outputs = self.scope(processor, f"{where}.ItemProcessor.", item_input, likely, first_output_only=True)
            results.append(outputs[0] if outputs else {})
        self.context.pop("Map", None)
        return results


# --- Choice rules (Step Functions Developer Guide, "Choice workflow state") -----------------------

def _glob(value: str, pattern: str) -> bool:
    """StringMatches: '*' is any run of characters; '\\*' a literal star."""
    pieces = re.split(r"(?<!\\)\*", pattern)
    return re.fullmatch(".*".join(re.escape(p.replace("\\*", "*")) for p in pieces), value, re.S) is not None


def _strings(compare: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    """A string comparison: false when either side is not a string, as in Step Functions.
    Timestamps compare as their ISO 8601 text, which orders them for one time zone."""
    return lambda left, right: isinstance(left, str) and isinstance(right, str) and compare(left, right)


_NUMBER = (int, float)
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "StringEquals": _strings(lambda a, b: a == b),
    "StringLessThan": _strings(lambda a, b: a < b),
    "StringGreaterThan": _strings(lambda a, b: a > b),
    "StringLessThanEquals": _strings(lambda a, b: a <= b),
    "StringGreaterThanEquals": _strings(lambda a, b: a >= b),
    "StringMatches": _strings(_glob),
    "NumericEquals": lambda a, b: _numbers(a, b) and a == b,
    "NumericLessThan": lambda a, b: _numbers(a, b) and a < b,
    "NumericGreaterThan": lambda a, b: _numbers(a, b) and a > b,
    "NumericLessThanEquals": lambda a, b: _numbers(a, b) and a <= b,
    "NumericGreaterThanEquals": lambda a, b: _numbers(a, b) and a >= b,
    "BooleanEquals": lambda a, b: isinstance(a, bool) and isinstance(b, bool) and a == b,
    "TimestampEquals": _strings(lambda a, b: a == b),
    "TimestampLessThan": _strings(lambda a, b: a < b),
    "TimestampGreaterThan": _strings(lambda a, b: a > b),
    "TimestampLessThanEquals": _strings(lambda a, b: a <= b),
    "TimestampGreaterThanEquals": _strings(lambda a, b: a >= b),
}
_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsString": lambda v: isinstance(v, str),
    "IsNumeric": lambda v: isinstance(v, _NUMBER) and not isinstance(v, bool),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)", v) is not None,
}


def _numbers(left: Any, right: Any) -> bool:
    return all(isinstance(v, _NUMBER) and not isinstance(v, bool) for v in (left, right))


def choice_rule(rule: Mapping[str, Any], data: Any, context: Mapping[str, Any]) -> bool:
    """Whether a Choice rule holds for `data`. A Variable that matches nothing is a runtime error in
    AWS except under IsPresent; here it raises UnresolvedError."""
    if "And" in rule:
        return all(choice_rule(r, data, context) for r in rule["And"])
    if "Or" in rule:
        return any(choice_rule(r, data, context) for r in rule["Or"])
    if "Not" in rule:
        return not choice_rule(rule["Not"], data, context)
    operators = [key for key in rule if key not in ("Variable", "Next", "Comment")]
    if len(operators) != 1:
        raise UnresolvedError(f"a Choice rule needs one operator, has {operators}")
    (operator,) = operators
    if operator == "IsPresent":
        try:
            read_path(rule["Variable"], data, context)
            present = True
        except UnresolvedError:
            present = False
        return present is rule[operator]
    value = read_path(rule["Variable"], data, context)
    if operator in _TESTS:
        return _TESTS[operator](value) is rule[operator]
    name = operator[:-4] if operator.endswith("Path") else operator
    if name not in _COMPARISONS:
        raise UnresolvedError(f"Choice operator {operator} is not one this evaluator knows (guardrails/states.py)")
    expected = read_path(rule[operator], data, context) if operator.endswith("Path") else rule[operator]
    return _COMPARISONS[name](value, expected)


_NO_OUTPUT = object()


def request_problems(requests: Iterable[TaskRequest]) -> list[str]:
    """Every problem of every resolved Task request against its API model."""
    return [f"{request.state}: {problem}" for request in requests
            for problem in shapes.problems(request.service, request.operation, request.params)]


def definitions_of(plan: Any) -> dict[str, dict[str, Any]]:
    """The definition of every state machine of a plan, by resource name."""
    return {r.name: json.loads(r.inputs["definition"]) for r in plan.of_type("aws:sfn/stateMachine:StateMachine")}


def sample_inputs_of(plan: Any, machine: Any) -> list[Any]:
    """The inputs the plan's own EventBridge targets and schedules start a state machine with."""
    arn = machine.outputs.get("arn")
    found = [json.loads(t.inputs["input"]) for t in plan.of_type("aws:cloudwatch/eventTarget:EventTarget")
             if t.inputs.get("arn") == arn and t.inputs.get("input")]
    found += [json.loads(s.inputs["target"]["input"]) for s in plan.of_type("aws:scheduler/schedule:Schedule")
              if (s.inputs.get("target") or {}).get("arn") == arn and (s.inputs.get("target") or {}).get("input")]
    return found


# --- asl-validator (npm) ---------------------------------------------------------------------------

ASL_VALIDATOR_DIR = Path(__file__).resolve().parent / "asl_validator"
ASL_VALIDATOR_SCRIPT = ASL_VALIDATOR_DIR / "validate.js"
INSTALL_COMMAND = f"npm ci --prefix {ASL_VALIDATOR_DIR.relative_to(Path(__file__).resolve().parents[2])}"


class AslValidatorMissingError(RuntimeError):
    """Node or the installed asl-validator package is missing."""


def asl_validator_available() -> str | None:
    """Why asl-validator cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (ASL_VALIDATOR_DIR / "node_modules" / "asl-validator").is_dir():
        return f"asl-validator is not installed: run `{INSTALL_COMMAND}`"
    return None


def asl_validator_problems(definitions: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """asl-validator's findings for each definition (empty list: valid), from one node process.

    It checks the ASL schema, every Next/StartAt/Default target, unreachable states, missing
    terminal states and the syntax of every path (asl-validator's README, "checks").
    """
    missing = asl_validator_available()
    if missing:
        raise AslValidatorMissingError(missing)
    completed = subprocess.run(["node", str(ASL_VALIDATOR_SCRIPT)], input=json.dumps(definitions), capture_output=True,
                               text=True, timeout=60, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"asl-validator failed to run: {completed.stderr.strip() or completed.stdout.strip()}")
    return json.loads(completed.stdout)
