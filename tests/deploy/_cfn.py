"""A small evaluator of CloudFormation templates: resolves intrinsic functions for given parameter values, so tests
can read what a stack would actually get (IAM resources, environment variables) rather than the template's syntax."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

TEMPLATES = Path(__file__).resolve().parents[2] / "deploy" / "aws"
PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "quarry",
    "AWS::URLSuffix": "amazonaws.com",
}


class _NoValue:
    """`Ref: AWS::NoValue`: removes the key or list item it stands in."""


NO_VALUE = _NoValue()


def load(name: str) -> dict[str, Any]:
    """A template parsed by cfn-lint's decoder, which understands the short tags (`!Ref`, `!Sub`, ...)."""
    template, errors = decode(str(TEMPLATES / name))
    assert not errors, errors
    assert isinstance(template, dict)
    return template


class Stack:
    """A template with parameter values: `resolve` turns any fragment into the value CloudFormation would use."""

    def __init__(self, template: dict[str, Any], **parameters: str) -> None:
        self.template = template
        unknown = set(parameters) - set(template["Parameters"])
        assert not unknown, f"not parameters of the template: {unknown}"
        self.parameters: dict[str, Any] = {}
        for name, spec in template["Parameters"].items():
            value = str(parameters.get(name, spec.get("Default", f"<{name}>")))
            is_list = spec["Type"].startswith(("CommaDelimitedList", "List<"))
            self.parameters[name] = value.split(",") if is_list else value

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def exists(self, logical_id: str) -> bool:
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def properties(self, logical_id: str) -> Any:
        assert self.exists(logical_id), f"{logical_id} is not created with these parameters"
        return self.resolve(self.template["Resources"][logical_id].get("Properties", {}))

    def of_type(self, resource_type: str) -> dict[str, Any]:
        """Logical id → resolved properties of every resource of that type the stack would create."""
        return {
            logical_id: self.properties(logical_id)
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type and self.exists(logical_id)
        }

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [value for value in (self.resolve(item) for item in node) if value is not NO_VALUE]
        if not isinstance(node, dict):
            return str(node) if isinstance(node, str) else node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                return f"<{arg[0]}.{arg[1]}>" if isinstance(arg, list) else f"<{arg}>"
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return re.sub(r"\$\{([^}!]+)\}", lambda m: str(variables.get(m[1]) or self._variable(m[1])), text)
            if key == "Fn::Join":
                return arg[0].join(str(part) for part in self.resolve(arg[1]))
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::FindInMap":
                name, top, second = (str(self.resolve(part)) for part in arg)
                return self.resolve(self.template["Mappings"][name][top][second])
            if key == "Fn::Equals":
                left, right = self.resolve(arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(arg))
            if key == "Fn::Or":
                return any(self.resolve(arg))
            if key == "Condition":
                return self.condition(arg)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def _variable(self, name: str) -> Any:
        """`${Name}` in a Sub is a Ref; `${Resource.Attribute}` a GetAtt."""
        if "." in name and name.split(".")[0] in self.template["Resources"]:
            return f"<{name}>"
        return self._ref(name)

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.parameters:
            return self.parameters[name]
        assert name in self.template["Resources"], f"Ref to nothing: {name}"
        return f"<{name}>"


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy_document["Statement"]
    return [found] if isinstance(found, dict) else list(found)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(stack: Stack, role: str) -> list[dict[str, Any]]:
    """The Allow statements of a role's inline policies, as deployed with the stack's parameters."""
    properties = stack.properties(role)
    return [
        statement for policy in properties.get("Policies", []) for statement in statements(policy["PolicyDocument"])
    ]


def role_actions(stack: Stack, role: str) -> set[str]:
    return {action for statement in role_statements(stack, role) for action in as_list(statement["Action"])}


def resources_for(stack: Stack, role: str, action: str) -> set[str]:
    return {
        resource
        for statement in role_statements(stack, role)
        if action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }
