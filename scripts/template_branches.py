#!/usr/bin/env python3
"""Checks every condition branch of template.yaml, offline.

cfn-lint and `sam validate` check the template as written, with its parameter defaults; neither
says which resources and properties a given set of parameter values produces, because resolving
Conditions and Fn::If needs the values. So, for each case below (a set of parameter values, one
per branch of the template's options):

1. the template is rendered with a small evaluator of the intrinsic functions the template uses
   (Ref, Fn::If, Fn::Equals/Not/And/Or, Condition, Fn::Sub, Fn::Split, Fn::Select, Fn::Join,
   Fn::Contains for Rules), and the resources and properties the branch must produce are
   asserted; the defaults case asserts that the trigger is exactly what it was before these
   options existed;
   every case is also rendered for the other source type and with two more topics, and every
   mapping must carry the same trigger settings as the first topic's (the template repeats them
   in four mapping definitions);
2. the template's Rules are evaluated: every case must pass them, and the cases under REJECTED
   must fail them (what CloudFormation would refuse before creating anything);
3. the rendered template (the branch's resources with concrete property values, no Conditions
   left) is written, and cfn-lint (all renders in one run) and `sam validate` (each render) must
   accept it, so every branch's actual properties meet the resource schemas and the SAM transform.

Run by scripts/validate-template.sh; needs the venv of scripts/setup.sh (cfn-lint, sam).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
BIN = ROOT / ".venv" / "bin"

PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "sink",
    "AWS::URLSuffix": "amazonaws.com",
}
NO_VALUE = object()

MSK_ARN = "arn:aws:kafka:us-east-1:123456789012:cluster/orders-cluster/0b7d1e2f-1234-4c5d-9e8f-abcdefabcdef-2"
CLUSTER_PATH = MSK_ARN.split(":cluster/")[1]
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-sasl-AbCdEf"
REGISTRY_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:registry-key-AbCdEf"
REGISTRY_CA = "arn:aws:secretsmanager:us-east-1:123456789012:secret:registry-ca-AbCdEf"
GLUE_REGISTRY = "arn:aws:glue:us-east-1:123456789012:registry/orders-registry"

# Values for the parameters without a default: the MSK case unless a case says otherwise.
REQUIRED = {
    "McEndpoint": "https://service.cn-shanghai.maxcompute.aliyun.com/api",
    "McProject": "project_name",
    "McTable": "orders",
    "KafkaTopic": "orders",
    "MskClusterArn": MSK_ARN,
}
SELF_MANAGED = {
    "KafkaSourceType": "SelfManaged",
    "MskClusterArn": "",
    "KafkaBootstrapServers": "b-1.example.com:9096,b-2.example.com:9096",
}
PROVISIONED = {"KafkaMinimumPollers": "1", "KafkaMaximumPollers": "4"}


class TemplateFailure(Exception):
    """The template, with these values, would fail in CloudFormation (e.g. Fn::Select out of range)."""


class Renderer:
    def __init__(self, template: dict, values: dict[str, str]):
        self.template = template
        self.params: dict[str, Any] = {}
        for name, spec in template["Parameters"].items():
            if name in values:
                raw = values[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                raise TemplateFailure(f"parameter {name} has no default and no value")
            raw = str(raw)
            self.params[name] = raw.split(",") if spec["Type"] == "CommaDelimitedList" else raw
        self.resources = set(template["Resources"])
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = self.truth(self.template["Conditions"][name])
        return self._conditions[name]

    def truth(self, node: Any) -> bool:
        (fn, arg), = node.items()
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Equals":
            return self.value(arg[0]) == self.value(arg[1])
        if fn == "Fn::Not":
            return not self.truth(arg[0])
        if fn == "Fn::And":
            return all(self.truth(a) for a in arg)
        if fn == "Fn::Or":
            return any(self.truth(a) for a in arg)
        if fn == "Fn::Contains":
            return self.value(arg[1]) in self.value(arg[0])
        raise TemplateFailure(f"unsupported condition function {fn}")

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.params:
            return self.params[name]
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.resources:
            return {"Ref": name}
        raise TemplateFailure(f"Ref to unknown {name}")

    def sub(self, text: str, variables: dict[str, Any]) -> Any:
        """Substitutes variables, parameters and pseudo parameters; references to resources stay,
        as an Fn::Sub of what is left."""
        left = False

        def one(match: re.Match) -> str:
            nonlocal left
            name = match.group(1)
            if name.startswith("!"):
                return match.group(0)
            if name in variables:
                return str(variables[name])
            if "." in name or name in self.resources:
                left = True
                return match.group(0)
            resolved = self.ref(name)
            if not isinstance(resolved, str):
                raise TemplateFailure(f"Fn::Sub of non-string {name}")
            return resolved

        out = re.sub(r"\$\{([^}]+)\}", one, text)
        return {"Fn::Sub": out} if left else out.replace("${!", "${")

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.value(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if fn == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {})
                return self.sub(arg[0], {k: self.value(v) for k, v in arg[1].items()})
            if fn == "Fn::Split":
                return self.value(arg[1]).split(arg[0])
            if fn == "Fn::Select":
                items = self.value(arg[1])
                index = int(self.value(arg[0]))
                if index >= len(items):
                    raise TemplateFailure(f"Fn::Select index {index} of {items}")
                return items[index]
            if fn == "Fn::Join":
                return arg[0].join(self.value(arg[1]))
            if fn == "Fn::GetAtt":
                return {"Fn::GetAtt": arg}
            if fn.startswith("Fn::") or fn == "Condition":
                return self.truth(node)
        out = {}
        for key, item in node.items():
            resolved = self.value(item)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def render(self) -> dict[str, dict]:
        """The resources created with these values: logical id -> resolved definition."""
        out = {}
        for name, resource in self.template["Resources"].items():
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            rendered = {k: self.value(v) for k, v in resource.items() if k != "Condition"}
            rendered.setdefault("Properties", {})
            out[name] = rendered
        return out

    def rendered_template(self) -> dict:
        """A deployable template of this branch alone: no parameters, conditions or rules left."""
        outputs = {}
        for name, output in self.template.get("Outputs", {}).items():
            if "Condition" in output and not self.condition(output["Condition"]):
                continue
            outputs[name] = {k: self.value(v) for k, v in output.items() if k != "Condition"}
        return {
            "AWSTemplateFormatVersion": self.template["AWSTemplateFormatVersion"],
            "Transform": self.template["Transform"],
            "Description": self.template.get("Description", ""),
            "Resources": self.render(),
            "Outputs": outputs,
        }

    def broken_rules(self) -> list[str]:
        """AssertDescription of every rule these values break."""
        broken = []
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.truth(rule["RuleCondition"]):
                continue
            for assertion in rule["Assertions"]:
                if not self.truth(assertion["Assert"]):
                    broken.append(f"{name}: {assertion['AssertDescription']}")
        return broken


@dataclass
class Case:
    name: str
    values: dict[str, str]
    check: Callable[[dict[str, dict]], None]
    extra: dict[str, str] = field(default_factory=dict)


def props(resources: dict[str, dict], name: str) -> dict:
    assert name in resources, f"{name} is not created; created: {sorted(resources)}"
    return resources[name]["Properties"]


def policies(resources: dict[str, dict]) -> dict[str, list]:
    return {
        p["PolicyName"]: p["PolicyDocument"]["Statement"]
        for p in props(resources, "SinkFunctionRole")["Policies"]
    }


def env(resources: dict[str, dict]) -> dict[str, str]:
    return props(resources, "SinkFunction")["Environment"]["Variables"]


def eq(actual: Any, expected: Any, what: str) -> None:
    assert actual == expected, f"{what}:\n  expected {json.dumps(expected)}\n  got      {json.dumps(actual)}"


def topic_arn(topic: str) -> str:
    return f"arn:aws:kafka:us-east-1:123456789012:topic/{CLUSTER_PATH}/{topic}"


# What the trigger was before provisioned mode, error handling, destinations, filters, metrics,
# the schema registry, AT_TIMESTAMP and several topics were options: the defaults must keep it.
TODAY_MSK = {
    "FunctionName": {"Ref": "SinkFunction"},
    "EventSourceArn": MSK_ARN,
    "Topics": ["orders"],
    "StartingPosition": "TRIM_HORIZON",
    "BatchSize": "100",
    "Enabled": "true",
}
TODAY_SELF_MANAGED = {
    "FunctionName": {"Ref": "SinkFunction"},
    "SelfManagedEventSource": {
        "Endpoints": {"KafkaBootstrapServers": ["b-1.example.com:9096", "b-2.example.com:9096"]}
    },
    "Topics": ["orders"],
    "StartingPosition": "TRIM_HORIZON",
    "BatchSize": "100",
    "Enabled": "true",
}


def check_defaults_msk(r: dict) -> None:
    eq(props(r, "MskTrigger"), TODAY_MSK, "MskTrigger with every default")
    assert not {"SelfManagedTrigger", "Topic2Trigger", "Topic3Trigger"} & set(r), sorted(r)
    eq(sorted(policies(r)), ["logs", "msk-cluster", "vpc-network-interfaces"], "role policies")
    eq(env(r)["MC_PARTIAL_BATCH_RESPONSE"], "false", "MC_PARTIAL_BATCH_RESPONSE")


def check_defaults_self_managed(r: dict) -> None:
    eq(props(r, "SelfManagedTrigger"), TODAY_SELF_MANAGED, "SelfManagedTrigger with every default")
    assert not {"MskTrigger", "Topic2Trigger"} & set(r), sorted(r)
    eq(sorted(policies(r)), ["logs"], "role policies")


def check_provisioned(r: dict) -> None:
    eq(
        props(r, "MskTrigger")["ProvisionedPollerConfig"],
        {"MinimumPollers": "2", "MaximumPollers": "10", "PollerGroupName": "sinks"},
        "ProvisionedPollerConfig",
    )


def check_provisioned_max_only(r: dict) -> None:
    eq(props(r, "SelfManagedTrigger")["ProvisionedPollerConfig"], {"MaximumPollers": "3"}, "ProvisionedPollerConfig")


def check_error_handling(r: dict) -> None:
    trigger = props(r, "MskTrigger")
    eq(trigger["MaximumRetryAttempts"], "3", "MaximumRetryAttempts")
    eq(trigger["MaximumRecordAgeInSeconds"], "3600", "MaximumRecordAgeInSeconds")
    eq(trigger["BisectBatchOnFunctionError"], True, "BisectBatchOnFunctionError")
    eq(trigger["FunctionResponseTypes"], ["ReportBatchItemFailures"], "FunctionResponseTypes")
    eq(env(r)["MC_PARTIAL_BATCH_RESPONSE"], "true", "MC_PARTIAL_BATCH_RESPONSE follows the trigger")
    assert "DestinationConfig" not in trigger


def check_kafka_destination_msk_iam(r: dict) -> None:
    eq(
        props(r, "MskTrigger")["DestinationConfig"],
        {"OnFailure": {"Destination": "kafka://orders-dlq"}},
        "DestinationConfig",
    )
    eq(
        policies(r)["on-failure-destination"],
        [{
            "Effect": "Allow",
            "Action": ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"],
            "Resource": topic_arn("orders-dlq"),
        }],
        "on-failure-destination policy",
    )


def check_kafka_destination_sasl(r: dict) -> None:
    eq(
        props(r, "SelfManagedTrigger")["DestinationConfig"],
        {"OnFailure": {"Destination": "kafka://orders-dlq"}},
        "DestinationConfig",
    )
    assert "on-failure-destination" not in policies(r), "ACLs, not IAM, govern a SASL cluster"


def destination_check(arn: str, statements: list) -> Callable[[dict], None]:
    def check(r: dict) -> None:
        eq(props(r, "MskTrigger")["DestinationConfig"], {"OnFailure": {"Destination": arn}}, "DestinationConfig")
        eq(policies(r)["on-failure-destination"], statements, "on-failure-destination policy")

    return check


SQS = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
SNS = "arn:aws:sns:us-east-1:123456789012:orders-dlq"
S3 = "arn:aws:s3:::orders-dlq"


def check_at_timestamp(r: dict) -> None:
    trigger = props(r, "MskTrigger")
    eq(trigger["StartingPosition"], "AT_TIMESTAMP", "StartingPosition")
    eq(trigger["StartingPositionTimestamp"], "1764000000", "StartingPositionTimestamp")


def check_three_topics_msk(r: dict) -> None:
    for name, topic in [("MskTrigger", "orders"), ("Topic2Trigger", "orders-eu"), ("Topic3Trigger", "orders.us")]:
        trigger = props(r, name)
        eq(trigger["Topics"], [topic], f"{name} Topics")
        eq(trigger["EventSourceArn"], MSK_ARN, f"{name} EventSourceArn")
        assert "SelfManagedEventSource" not in trigger and "SelfManagedKafkaEventSourceConfig" not in trigger
        eq(trigger["SourceAccessConfigurations"], [{"Type": "SASL_SCRAM_512_AUTH", "URI": SECRET}], f"{name} access")
        eq(trigger["ProvisionedPollerConfig"], {"MinimumPollers": "1", "MaximumPollers": "4"}, f"{name} pollers")
    eq(props(r, "MskTrigger")["AmazonManagedKafkaEventSourceConfig"], {"ConsumerGroupId": "sink"}, "first group")
    eq(
        props(r, "Topic2Trigger")["AmazonManagedKafkaEventSourceConfig"],
        {"ConsumerGroupId": "sink-orders-eu"},
        "a group id serves one mapping",
    )
    eq(props(r, "Topic3Trigger")["AmazonManagedKafkaEventSourceConfig"], {"ConsumerGroupId": "sink-orders.us"}, "group 3")


def check_three_topics_msk_iam(r: dict) -> None:
    read = policies(r)["msk-iam-read"]
    eq(read[1]["Resource"], [topic_arn("orders"), topic_arn("orders-eu"), topic_arn("orders.us")], "topics readable")
    assert "SourceAccessConfigurations" not in props(r, "Topic3Trigger")


def check_two_topics_self_managed(r: dict) -> None:
    trigger = props(r, "Topic2Trigger")
    assert "Topic3Trigger" not in r
    eq(trigger["Topics"], ["orders-eu"], "Topics")
    eq(trigger["SelfManagedEventSource"], TODAY_SELF_MANAGED["SelfManagedEventSource"], "brokers")
    assert "EventSourceArn" not in trigger and "AmazonManagedKafkaEventSourceConfig" not in trigger
    assert "SelfManagedKafkaEventSourceConfig" not in trigger, "no group id, no registry: none"
    eq(
        trigger["SourceAccessConfigurations"],
        [
            {"Type": "SASL_SCRAM_512_AUTH", "URI": SECRET},
            {"Type": "VPC_SUBNET", "URI": "subnet:subnet-0a1b2c"},
            {"Type": "VPC_SECURITY_GROUP", "URI": "security_group:sg-0a1b2c"},
        ],
        "access configurations",
    )
    eq(trigger["FunctionResponseTypes"], ["ReportBatchItemFailures"], "every topic gets the controls")


def check_filters_and_metrics(r: dict) -> None:
    trigger = props(r, "MskTrigger")
    eq(
        trigger["FilterCriteria"],
        {"Filters": [{"Pattern": '{"value": {"type": ["order"]}}'}, {"Pattern": '{"value": {"type": ["refund"]}}'}]},
        "FilterCriteria",
    )
    eq(trigger["MetricsConfig"], {"Metrics": ["EventCount", "ErrorCount", "KafkaMetrics"]}, "MetricsConfig")


def check_glue_registry(r: dict) -> None:
    eq(
        props(r, "MskTrigger")["AmazonManagedKafkaEventSourceConfig"],
        {
            "SchemaRegistryConfig": {
                "SchemaRegistryURI": GLUE_REGISTRY,
                "EventRecordFormat": "JSON",
                "SchemaValidationConfigs": [{"Attribute": "KEY"}, {"Attribute": "VALUE"}],
            }
        },
        "SchemaRegistryConfig (Glue: no access configs)",
    )
    eq(
        policies(r)["glue-schema-registry"],
        [
            {"Effect": "Allow", "Action": "glue:GetRegistry", "Resource": GLUE_REGISTRY},
            {
                "Effect": "Allow",
                "Action": "glue:GetSchemaVersion",
                "Resource": [GLUE_REGISTRY, "arn:aws:glue:us-east-1:123456789012:schema/orders-registry/*"],
            },
        ],
        "glue policy",
    )
    assert "kafka-secrets" not in policies(r)


def check_confluent_registry(r: dict) -> None:
    eq(
        props(r, "SelfManagedTrigger")["SelfManagedKafkaEventSourceConfig"],
        {
            "ConsumerGroupId": "sink",
            "SchemaRegistryConfig": {
                "SchemaRegistryURI": "https://psrc-12345.eu-central-1.aws.confluent.cloud",
                "EventRecordFormat": "JSON",
                "SchemaValidationConfigs": [{"Attribute": "VALUE"}],
                "AccessConfigs": [
                    {"Type": "BASIC_AUTH", "URI": REGISTRY_SECRET},
                    {"Type": "SERVER_ROOT_CA_CERTIFICATE", "URI": REGISTRY_CA},
                ],
            },
        },
        "SchemaRegistryConfig (Confluent)",
    )
    eq(
        policies(r)["kafka-secrets"][0]["Resource"],
        [SECRET, REGISTRY_SECRET, REGISTRY_CA],
        "the registry's secrets are readable",
    )
    assert "glue-schema-registry" not in policies(r)


# Settings every mapping of a stack shares, whichever definition (MSK, self-managed, additional
# topic) creates it.
SHARED = [
    "StartingPosition", "StartingPositionTimestamp", "BatchSize", "MaximumBatchingWindowInSeconds",
    "Enabled", "FilterCriteria", "MetricsConfig", "ProvisionedPollerConfig", "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError", "FunctionResponseTypes",
    "DestinationConfig",
]
MAPPINGS = ["MskTrigger", "SelfManagedTrigger", "Topic2Trigger", "Topic3Trigger"]


def shared(trigger: dict) -> dict:
    out = {k: trigger.get(k) for k in SHARED}
    source = trigger.get("AmazonManagedKafkaEventSourceConfig") or trigger.get("SelfManagedKafkaEventSourceConfig") or {}
    out["SchemaRegistryConfig"] = source.get("SchemaRegistryConfig")
    return out


def check_mappings_agree(template: dict, values: dict[str, str]) -> None:
    """Every mapping of `values`, of the other source type, and with two more topics carries the
    same settings."""
    first = next(m for m in MAPPINGS if m in Renderer(template, values).render())
    reference = shared(Renderer(template, values).render()[first]["Properties"])
    variants = [{**values, "KafkaAdditionalTopics": "orders-eu,orders.us"}]
    if values.get("KafkaAuthType", "NONE") not in ("IAM", "BASIC_AUTH", "SASL_SCRAM_256_AUTH"):
        other = SELF_MANAGED if first == "MskTrigger" else {"KafkaSourceType": "MSK", "MskClusterArn": MSK_ARN}
        variants += [{**values, **other}, {**values, **other, "KafkaAdditionalTopics": "orders-eu,orders.us"}]
    for variant in variants:
        resources = Renderer(template, variant).render()
        created = [m for m in MAPPINGS if m in resources]
        assert "Topic3Trigger" in created or "orders.us" not in variant.get("KafkaAdditionalTopics", ""), created
        for mapping in created:
            eq(shared(resources[mapping]["Properties"]), reference, f"{mapping} settings, as the first mapping's")


CASES = [
    Case("defaults, MSK", {}, check_defaults_msk),
    Case("defaults, self-managed", SELF_MANAGED, check_defaults_self_managed),
    Case(
        "provisioned mode with a poller group",
        {"KafkaMinimumPollers": "2", "KafkaMaximumPollers": "10", "KafkaPollerGroupName": "sinks"},
        check_provisioned,
    ),
    Case("provisioned mode, maximum only", {**SELF_MANAGED, "KafkaMaximumPollers": "3"}, check_provisioned_max_only),
    Case(
        "retries, record age, split batch, partial batch response",
        {
            **PROVISIONED,
            "KafkaMaximumRetryAttempts": "3",
            "KafkaMaximumRecordAgeInSeconds": "3600",
            "KafkaBisectBatchOnFunctionError": "true",
            "KafkaPartialBatchResponse": "true",
        },
        check_error_handling,
    ),
    Case(
        "Kafka on-failure destination, MSK with IAM",
        {
            **PROVISIONED,
            "KafkaAuthType": "IAM",
            "KafkaOnFailureTopic": "orders-dlq",
        },
        check_kafka_destination_msk_iam,
    ),
    Case(
        "Kafka on-failure destination, self-managed with SASL",
        {
            **SELF_MANAGED,
            **PROVISIONED,
            "KafkaAuthType": "SASL_SCRAM_512_AUTH",
            "KafkaAuthSecretArn": SECRET,
            "KafkaOnFailureTopic": "orders-dlq",
        },
        check_kafka_destination_sasl,
    ),
    Case(
        "SQS on-failure destination",
        {"KafkaOnFailureArn": SQS},
        destination_check(SQS, [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": SQS}]),
    ),
    Case(
        "SNS on-failure destination",
        {"KafkaOnFailureArn": SNS},
        destination_check(SNS, [{"Effect": "Allow", "Action": "sns:Publish", "Resource": SNS}]),
    ),
    Case(
        "S3 on-failure destination",
        {"KafkaOnFailureArn": S3},
        destination_check(
            S3,
            [
                {"Effect": "Allow", "Action": "s3:PutObject", "Resource": S3 + "/*"},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": S3},
            ],
        ),
    ),
    Case(
        "AT_TIMESTAMP",
        {"KafkaStartingPosition": "AT_TIMESTAMP", "KafkaStartingPositionTimestamp": "1764000000"},
        check_at_timestamp,
    ),
    Case(
        "three topics, MSK with SASL and a consumer group",
        {
            **PROVISIONED,
            "KafkaAdditionalTopics": "orders-eu,orders.us",
            "KafkaConsumerGroupId": "sink",
            "KafkaAuthType": "SASL_SCRAM_512_AUTH",
            "KafkaAuthSecretArn": SECRET,
        },
        check_three_topics_msk,
    ),
    Case(
        "three topics, MSK with IAM",
        {"KafkaAdditionalTopics": "orders-eu,orders.us", "KafkaAuthType": "IAM"},
        check_three_topics_msk_iam,
    ),
    Case(
        "two topics, self-managed in a VPC with SASL",
        {
            **SELF_MANAGED,
            **PROVISIONED,
            "KafkaAdditionalTopics": "orders-eu",
            "KafkaAuthType": "SASL_SCRAM_512_AUTH",
            "KafkaAuthSecretArn": SECRET,
            "KafkaVpcSubnetIds": "subnet-0a1b2c",
            "KafkaVpcSecurityGroupId": "sg-0a1b2c",
            "KafkaPartialBatchResponse": "true",
        },
        check_two_topics_self_managed,
    ),
    Case(
        "filter criteria and metrics",
        {
            "KafkaFilterPattern1": '{"value": {"type": ["order"]}}',
            "KafkaFilterPattern3": '{"value": {"type": ["refund"]}}',
            "KafkaMetrics": "EventCount,ErrorCount,KafkaMetrics",
        },
        check_filters_and_metrics,
    ),
    Case(
        "Glue schema registry, key and value",
        {**PROVISIONED, "KafkaSchemaRegistryUri": GLUE_REGISTRY, "KafkaSchemaValidationAttributes": "KEY,VALUE"},
        check_glue_registry,
    ),
    Case(
        "Confluent schema registry with basic auth and a private CA",
        {
            **SELF_MANAGED,
            **PROVISIONED,
            "KafkaAuthType": "SASL_SCRAM_512_AUTH",
            "KafkaAuthSecretArn": SECRET,
            "KafkaConsumerGroupId": "sink",
            "KafkaSchemaRegistryUri": "https://psrc-12345.eu-central-1.aws.confluent.cloud",
            "KafkaSchemaRegistryAuthType": "BASIC_AUTH",
            "KafkaSchemaRegistrySecretArn": REGISTRY_SECRET,
            "KafkaSchemaRegistryRootCaSecretArn": REGISTRY_CA,
        },
        check_confluent_registry,
    ),
]

# Values the template's Rules must refuse, with the rule that refuses them.
REJECTED = [
    ("error handling without provisioned mode", {"KafkaMaximumRetryAttempts": "3"}, "ProvisionedModeFeaturesNeedPollers"),
    ("partial batch response without provisioned mode", {"KafkaPartialBatchResponse": "true"}, "ProvisionedModeFeaturesNeedPollers"),
    ("schema registry without provisioned mode", {"KafkaSchemaRegistryUri": GLUE_REGISTRY}, "ProvisionedModeFeaturesNeedPollers"),
    ("Kafka destination without provisioned mode", {"KafkaOnFailureTopic": "orders-dlq"}, "ProvisionedModeFeaturesNeedPollers"),
    ("AT_TIMESTAMP without a timestamp", {"KafkaStartingPosition": "AT_TIMESTAMP"}, "AtTimestampNeedsTimestamp"),
    (
        "a topic and an ARN as on-failure destinations",
        {**PROVISIONED, "KafkaOnFailureTopic": "orders-dlq", "KafkaOnFailureArn": SQS},
        "OneOnFailureDestination",
    ),
    (
        "the source topic as the Kafka destination",
        {**PROVISIONED, "KafkaOnFailureTopic": "orders"},
        "OneOnFailureDestination",
    ),
    (
        "registry auth without its secret",
        {**PROVISIONED, "KafkaSchemaRegistryUri": "https://registry.example.com", "KafkaSchemaRegistryAuthType": "BASIC_AUTH"},
        "RegistryAuthNeedsSecret",
    ),
]


def main() -> int:
    template, errors = decode_str(TEMPLATE.read_text())
    if errors:
        print(f"cannot read {TEMPLATE}: {errors}", file=sys.stderr)
        return 1
    failures = []

    renders = []
    for case in CASES:
        values = {**REQUIRED, **case.values}
        renderer = Renderer(template, values)
        try:
            broken = renderer.broken_rules()
            assert not broken, f"the Rules refuse these values: {broken}"
            case.check(renderer.render())
            check_mappings_agree(template, values)
            renders.append((case.name, renderer.rendered_template()))
            print(f"ok      render  {case.name}")
        except (AssertionError, TemplateFailure) as error:
            failures.append(case.name)
            print(f"FAILED  render  {case.name}: {error}")

    for name, values, rule in REJECTED:
        broken = Renderer(template, {**REQUIRED, **values}).broken_rules()
        if any(b.startswith(rule + ":") for b in broken):
            print(f"ok      rules   {name} is refused by {rule}")
        else:
            failures.append(name)
            print(f"FAILED  rules   {name} should be refused by {rule}; broken: {broken}")

    offline = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        offline.pop(key, None)
    with tempfile.TemporaryDirectory(prefix="template-branches-") as tmp:
        paths = []
        for i, (name, rendered) in enumerate(renders):
            path = Path(tmp) / f"branch-{i:02d}.json"
            path.write_text(json.dumps(rendered, indent=1))
            paths.append((name, path))
        lint = subprocess.run(
            [str(BIN / "cfn-lint"), *[str(p) for _, p in paths]],
            env=offline, capture_output=True, text=True,
        )
        if lint.returncode != 0:
            failures.append("cfn-lint")
            print(f"FAILED  cfn-lint (rc {lint.returncode}):")
            for line in (lint.stdout + lint.stderr).splitlines():
                for name, path in paths:
                    line = line.replace(str(path), f"[{name}]")
                print("        " + line)
        else:
            print(f"ok      cfn-lint on all {len(paths)} renders")

        def sam_validate(path: Path) -> subprocess.CompletedProcess:
            return subprocess.run(
                [str(BIN / "sam"), "validate", "--template-file", str(path), "--region", "us-east-1"],
                env=offline, capture_output=True, text=True,
            )

        # Each `sam validate` is a process of a few seconds, mostly start-up: two at a time.
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(sam_validate, [p for _, p in paths]))
        for (name, _), sam in zip(paths, results):
            if sam.returncode != 0:
                failures.append(f"sam validate {name}")
                print(f"FAILED  sam     {name}:\n{sam.stdout}{sam.stderr}")
            else:
                print(f"ok      sam     {name}")

    if failures:
        print(f"\n{len(failures)} failure(s): {failures}", file=sys.stderr)
        return 1
    print(f"\nall {len(CASES)} branches render as expected and validate; {len(REJECTED)} refusals hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
