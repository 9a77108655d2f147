"""EksCluster: a private EKS cluster in the platform's VPC, ready for the Kubernetes components.

* The API endpoint is private (reachable from the VPC, whose CIDR the cluster security group
  admits on 443); a public endpoint is opt-in and then limited to the given CIDRs.
* Kubernetes secrets are envelope-encrypted with the platform key; all five control-plane log
  types go to a KMS-encrypted log group created before the cluster (otherwise EKS creates an
  unencrypted one with no retention). The log group follows the stack's retention; the cluster
  itself holds no data and is destroyed with the stack.
* Access is through EKS access entries only (``authentication_mode="API"``, no ``aws-auth``
  ConfigMap): the deployer as creator, plus cluster-admin for the configured roles.
* An IAM OIDC provider for the cluster's issuer backs the service-account roles (IRSA); the
  VPC CNI and the EBS CSI driver run with their own roles, so the node role has neither the CNI
  nor the EBS policy and pods never get to use it: the launch templates require IMDSv2 with a
  hop limit of 1, which keeps pods off the instance metadata service.
* Both managed node groups run Bottlerocket. **GPU device plugin:** the GPU group uses AMI type
  ``BOTTLEROCKET_x86_64_NVIDIA``, whose OS image ships the NVIDIA driver *and* the NVIDIA
  Kubernetes device plugin (a host service advertising ``nvidia.com/gpu``), so no privileged
  device-plugin DaemonSet (or GPU operator) runs in the cluster. GPU nodes carry the taint
  ``nvidia.com/gpu=true:NoSchedule`` and the platform's GPU label, and may be spot.
* Bottlerocket has two volumes: ``/dev/xvda`` (the read-only OS) and ``/dev/xvdb`` (images,
  container storage); the launch templates encrypt both with the platform key and size the
  data volume (https://github.com/bottlerocket-os/bottlerocket#default-volumes).
* Managed add-ons: vpc-cni (network policy enforcement on) and kube-proxy before the nodes (a
  node only turns Ready once the CNI runs; EKS installs no self-managed add-ons here), coredns
  and the EBS CSI driver after them (their Deployments need nodes). Add-on versions are EKS's
  defaults for the cluster version.
* The interface endpoints a private cluster needs beyond the data layer's: ec2 (CNI and EBS
  CSI), eks, eks-auth, elasticloadbalancing.
* A default StorageClass ``gp3-encrypted``: gp3 volumes encrypted with the platform key,
  retained after their claim is deleted when the stack retains data.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import iam_policies
from components.kubernetes.cluster_access import ClusterAccess
from components.kubernetes.kubernetes_provider import eks_kubeconfig, kubernetes_provider
from components.kubernetes.pod_security import GPU_NODE_LABEL, GPU_TAINT_KEY
from components.kubernetes.service_account_role import service_account_trust_policy
from components.private_network import interface_endpoints
from components.retention import DataRetention

#: Control-plane logs sent to CloudWatch: all five EKS offers.
CLUSTER_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

#: Interface endpoints nodes of a private cluster need that the data layer does not add
#: (https://docs.aws.amazon.com/eks/latest/userguide/private-clusters.html).
EKS_ENDPOINT_SERVICES = ("ec2", "eks", "eks-auth", "elasticloadbalancing")

#: The default StorageClass of a created cluster.
STORAGE_CLASS = "gp3-encrypted"

#: AMI types of the node groups (Bottlerocket; the NVIDIA variant has driver and device plugin).
SYSTEM_AMI_TYPE = "BOTTLEROCKET_x86_64"
GPU_AMI_TYPE = "BOTTLEROCKET_x86_64_NVIDIA"

#: Bottlerocket's OS volume and its data volume (images, container storage, logs).
OS_DEVICE = "/dev/xvda"
DATA_DEVICE = "/dev/xvdb"

#: The taint value and EKS's spelling of NoSchedule on GPU nodes.
GPU_TAINT_VALUE = "true"
GPU_TAINT_EFFECT = "NO_SCHEDULE"

#: Service accounts EKS's add-ons run as (their IRSA roles trust exactly these).
VPC_CNI_SERVICE_ACCOUNT = ("kube-system", "aws-node")
EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")

#: AWS-managed policies, by role.
CLUSTER_POLICIES = ("AmazonEKSClusterPolicy",)
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly")
VPC_CNI_POLICY = "AmazonEKS_CNI_Policy"
EBS_CSI_POLICY = "service-role/AmazonEBSCSIDriverPolicy"

#: The EKS access policy given to admin roles, across the whole cluster.
CLUSTER_ADMIN_ACCESS_POLICY = "AmazonEKSClusterAdminPolicy"

#: vpc-cni settings: enforce Kubernetes NetworkPolicies with the CNI's eBPF agent.
VPC_CNI_CONFIGURATION = {"enableNetworkPolicy": "true"}

#: EBS CSI settings: the node DaemonSet must run on the tainted GPU nodes too, or pods there
#: could not mount volumes.
EBS_CSI_CONFIGURATION = {"node": {"tolerateAllTaints": True}}

_HTTPS = 443


@dataclass(frozen=True)
class NodeGroupSpec:
    """The size and instances of one managed node group (mirrors ``NodeGroupConfig``)."""

    instance_types: Sequence[str]
    """EC2 instance types the group may launch."""
    min_size: int
    """The fewest nodes."""
    max_size: int
    """The most nodes."""
    desired_size: int
    """Nodes at creation; later changes are left to the autoscaler (Pulumi ignores them)."""
    disk_size_gb: int
    """Each node's encrypted data volume (container images and storage)."""
    spot: bool = False
    """Run on spot capacity instead of on-demand."""

    def errors(self, field_name: str) -> list[str]:
        """What is wrong with this spec, each message naming ``field_name``."""
        found = []
        if not self.instance_types:
            found.append(f"{field_name}.instance_types: at least one instance type is required")
        if not 0 <= self.min_size <= self.desired_size <= self.max_size:
            found.append(
                f"{field_name}: sizes must satisfy 0 <= min_size ({self.min_size}) <= "
                f"desired_size ({self.desired_size}) <= max_size ({self.max_size})"
            )
        if self.max_size < 1:
            found.append(f"{field_name}.max_size: must be at least 1")
        return found


@dataclass(frozen=True)
class EksClusterArgs:
    """Inputs of an EksCluster (mirrors ``EksClusterConfig`` plus the data layer's outputs)."""

    environment: str
    """Environment name: the cluster is ``mlp-<environment>``."""
    region: str
    """The stack's region (endpoint service names, the kubeconfig's ``get-token``)."""
    version: str
    """The Kubernetes minor version, e.g. ``1.33``."""
    vpc_id: pulumi.Input[str]
    """The platform's private VPC."""
    vpc_cidr: str
    """The VPC's IPv4 range: what may reach the private API endpoint."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Private subnets (at least two availability zones) for the control plane and the nodes."""
    endpoint_security_group_id: pulumi.Input[str]
    """Security group of the VPC's interface endpoints (the cluster's endpoints join it)."""
    kms_key_arn: pulumi.Input[str]
    """The platform key: secrets, control-plane logs, node volumes, persistent volumes."""
    log_retention_days: int
    """Retention of the control-plane log group."""
    system_nodes: NodeGroupSpec
    """The on-demand nodes of controllers and CPU workloads (``spot`` is ignored)."""
    account_id: pulumi.Input[str]
    """The AWS account."""
    partition: pulumi.Input[str]
    """The AWS partition, for ARNs."""
    retention: DataRetention
    """Whether the control-plane logs survive ``pulumi destroy``."""
    gpu_nodes: NodeGroupSpec | None = None
    """The GPU nodes; None: a cluster without GPUs."""
    admin_role_arns: Sequence[str] = ()
    """IAM roles given cluster-admin access (the deployer has it as the creator)."""
    public_access_cidrs: Sequence[str] = ()
    """Opt-in public API endpoint, reachable from these CIDRs only; empty: private only."""
    render_to: str | None = None
    """Render the Kubernetes objects to this folder instead of applying them."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on top of the provider's default tags (node instances and volumes get them too)."""

    def __post_init__(self) -> None:
        errors = self.system_nodes.errors("system_nodes")
        if self.gpu_nodes is not None:
            errors += self.gpu_nodes.errors("gpu_nodes")
        for cidr in self.public_access_cidrs:
            try:
                network = ipaddress.ip_network(cidr)
            except ValueError:
                errors.append(f"public_access_cidrs: '{cidr}' is not a CIDR block")
                continue
            if network.prefixlen == 0:
                errors.append(f"public_access_cidrs: '{cidr}' opens the API to the internet")
        roles = list(self.admin_role_arns)
        if len(set(roles)) != len(roles):
            errors.append(f"admin_role_arns: roles repeat: {roles}")
        if errors:
            raise ValueError("Invalid EKS cluster: " + "; ".join(errors))

    @property
    def cluster_name(self) -> str:
        """The cluster's name, fixed so its log group's name is known before it exists."""
        return f"mlp-{self.environment}"


def cluster_log_group_name(cluster_name: str) -> str:
    """The log group EKS writes control-plane logs to (its name is fixed by EKS)."""
    return f"/aws/eks/{cluster_name}/cluster"


def plain_trust_policy(service: str) -> str:
    """A trust policy for ``service`` exactly as EKS documents it for cluster and node roles.

    The platform's other service roles add an ``aws:SourceAccount`` condition; EKS does not
    document that key for these two roles, and a condition the service does not send would
    stop the cluster or the nodes from starting.
    """
    return iam_policies.policy_json(
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    )


def secrets_key_statement(kms_key_arn: str) -> iam_policies.Statement:
    """What the cluster role does with the key that envelope-encrypts Kubernetes secrets."""
    return {
        "Sid": "EncryptKubernetesSecrets",
        "Effect": "Allow",
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
        "Resource": kms_key_arn,
    }


def ebs_csi_key_statements(kms_key_arn: str) -> list[iam_policies.Statement]:
    """Let the EBS CSI driver create and attach volumes encrypted with the platform key.

    AWS's documented statements: grants only for AWS resources (the attached EC2 volume), and
    the data-key operations on this key alone.
    """
    return [
        {
            "Sid": "GrantVolumeAccessToEc2",
            "Effect": "Allow",
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Resource": kms_key_arn,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
        {
            "Sid": "UsePlatformKeyForVolumes",
            "Effect": "Allow",
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:DescribeKey",
            ],
            "Resource": kms_key_arn,
        },
    ]


def managed_policy_arn(partition: pulumi.Input[str], policy: str) -> pulumi.Output[str]:
    """The ARN of the AWS-managed policy ``policy`` (``service-role/...`` paths included)."""
    return pulumi.Output.from_input(partition).apply(
        lambda value: f"arn:{value}:iam::aws:policy/{policy}"
    )


def _role_label(role_arn: str) -> str:
    """A resource-name-safe label of a role ARN (its name, without path)."""
    return role_arn.rsplit("/", 1)[-1]


class EksCluster(pulumi.ComponentResource):
    """A private, encrypted EKS cluster with system and GPU node groups, add-ons and storage."""

    access: ClusterAccess
    """What the Kubernetes components need: provider, OIDC provider, storage class, readiness."""
    cluster_name: pulumi.Output[str]
    """The cluster's name."""
    endpoint: pulumi.Output[str]
    """The API server's URL."""
    oidc_provider_arn: pulumi.Output[str]
    """The IAM OIDC provider of the cluster's service-account issuer."""
    node_group_names: list[pulumi.Output[str]]
    """The managed node groups (system first, then GPU)."""

    def __init__(
        self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlplatform:kubernetes:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = f"{args.cluster_name}-eks"

        cluster_role = aws.iam.Role(
            f"{prefix}-cluster",
            description=f"EKS control plane of {args.cluster_name}",
            assume_role_policy=plain_trust_policy("eks.amazonaws.com"),
            opts=child,
        )
        cluster_role_ready: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                f"{prefix}-cluster-{policy}",
                role=cluster_role.name,
                policy_arn=managed_policy_arn(args.partition, policy),
                opts=pulumi.ResourceOptions(parent=cluster_role),
            )
            for policy in CLUSTER_POLICIES
        ]
        cluster_role_ready.append(
            aws.iam.RolePolicy(
                f"{prefix}-cluster-secrets-key",
                role=cluster_role.id,
                policy=pulumi.Output.from_input(args.kms_key_arn).apply(
                    lambda key: iam_policies.policy_json(secrets_key_statement(key))
                ),
                opts=pulumi.ResourceOptions(parent=cluster_role),
            )
        )

        # Created first, with the key and retention: EKS would otherwise create it on first
        # write, unencrypted and kept forever.
        log_group = aws.cloudwatch.LogGroup(
            f"{prefix}-control-plane-logs",
            name=cluster_log_group_name(args.cluster_name),
            kms_key_id=args.kms_key_arn,
            retention_in_days=args.log_retention_days,
            tags=args.tags,
            opts=args.retention.stateful(self),
        )

        public = bool(args.public_access_cidrs)
        cluster = aws.eks.Cluster(
            prefix,
            name=args.cluster_name,
            role_arn=cluster_role.arn,
            version=args.version,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(args.public_access_cidrs) if public else None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"],
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=args.kms_key_arn),
            ),
            enabled_cluster_log_types=list(CLUSTER_LOG_TYPES),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=True,
            ),
            # The managed add-ons below own vpc-cni, kube-proxy and coredns; self-managed copies
            # would run the CNI with the node role's permissions, which it does not have.
            bootstrap_self_managed_addons=False,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, *cluster_role_ready]),
        )
        cluster_name = cluster.name

        for role_arn in args.admin_role_arns:
            label = _role_label(role_arn)
            entry = aws.eks.AccessEntry(
                f"{prefix}-admin-{label}",
                cluster_name=cluster_name,
                principal_arn=role_arn,
                type="STANDARD",
                opts=pulumi.ResourceOptions(parent=cluster),
            )
            aws.eks.AccessPolicyAssociation(
                f"{prefix}-admin-{label}",
                cluster_name=cluster_name,
                principal_arn=entry.principal_arn,
                policy_arn=pulumi.Output.from_input(args.partition).apply(
                    lambda partition: (
                        f"arn:{partition}:eks::aws:cluster-access-policy/"
                        f"{CLUSTER_ADMIN_ACCESS_POLICY}"
                    )
                ),
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=pulumi.ResourceOptions(parent=entry),
            )

        # Private API access from inside the VPC (nodes, VPN or bastions routed into it).
        aws.vpc.SecurityGroupIngressRule(
            f"{prefix}-api-from-vpc",
            security_group_id=cluster.vpc_config.apply(
                lambda config: config.cluster_security_group_id
            ),
            description="Kubernetes API over HTTPS from the VPC",
            ip_protocol="tcp",
            from_port=_HTTPS,
            to_port=_HTTPS,
            cidr_ipv4=args.vpc_cidr,
            opts=pulumi.ResourceOptions(parent=cluster),
        )

        interface_endpoints(
            prefix,
            EKS_ENDPOINT_SERVICES,
            region=args.region,
            vpc_id=args.vpc_id,
            subnet_ids=args.subnet_ids,
            security_group_id=args.endpoint_security_group_id,
            opts=child,
        )

        issuer_url = cluster.identities.apply(lambda identities: identities[0].oidcs[0].issuer)
        oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{prefix}-oidc",
            url=issuer_url,
            client_id_lists=["sts.amazonaws.com"],
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=cluster),
        )
        oidc_issuer = issuer_url.apply(lambda url: url.removeprefix("https://"))

        def addon_role(
            role_name: str, service_account: tuple[str, str], policy: str, description: str
        ) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
            namespace, account = service_account
            role = aws.iam.Role(
                f"{prefix}-{role_name}",
                description=description,
                assume_role_policy=pulumi.Output.all(oidc_provider.arn, oidc_issuer).apply(
                    lambda values: service_account_trust_policy(
                        values[0], values[1], namespace, account
                    )
                ),
                opts=child,
            )
            attachment = aws.iam.RolePolicyAttachment(
                f"{prefix}-{role_name}-managed",
                role=role.name,
                policy_arn=managed_policy_arn(args.partition, policy),
                opts=pulumi.ResourceOptions(parent=role),
            )
            return role, attachment

        def addon(
            addon_name: str,
            depends_on: Sequence[pulumi.Resource],
            role: aws.iam.Role | None = None,
            configuration: dict[str, Any] | None = None,
        ) -> aws.eks.Addon:
            return aws.eks.Addon(
                f"{prefix}-{addon_name}",
                cluster_name=cluster_name,
                addon_name=addon_name,
                service_account_role_arn=role.arn if role else None,
                configuration_values=json.dumps(configuration) if configuration else None,
                # The stack owns the add-ons' settings: overwrite any drift EKS finds.
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                tags=args.tags,
                opts=pulumi.ResourceOptions(parent=cluster, depends_on=list(depends_on)),
            )

        vpc_cni_role, vpc_cni_policy = addon_role(
            "vpc-cni",
            VPC_CNI_SERVICE_ACCOUNT,
            VPC_CNI_POLICY,
            "VPC CNI (aws-node): manages the nodes' network interfaces and pod addresses",
        )
        # Before the nodes: a node turns Ready only once the CNI runs on it.
        vpc_cni = addon("vpc-cni", [vpc_cni_policy], vpc_cni_role, VPC_CNI_CONFIGURATION)
        kube_proxy = addon("kube-proxy", [])

        node_role = aws.iam.Role(
            f"{prefix}-nodes",
            description=f"Nodes of {args.cluster_name}: join the cluster, pull images",
            assume_role_policy=plain_trust_policy("ec2.amazonaws.com"),
            opts=child,
        )
        node_role_ready = [
            aws.iam.RolePolicyAttachment(
                f"{prefix}-nodes-{policy}",
                role=node_role.name,
                policy_arn=managed_policy_arn(args.partition, policy),
                opts=pulumi.ResourceOptions(parent=node_role),
            )
            for policy in NODE_POLICIES
        ]

        # Managed node groups launch through EC2 Auto Scaling's default service-linked role; it
        # needs the key for the encrypted volumes (without the grant, instances fail to launch
        # with Client.InternalError).
        autoscaling_grant = aws.kms.Grant(
            f"{prefix}-autoscaling-volumes",
            key_id=args.kms_key_arn,
            grantee_principal=pulumi.Output.all(args.partition, args.account_id).apply(
                lambda values: (
                    f"arn:{values[0]}:iam::{values[1]}:role/aws-service-role/"
                    "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
                )
            ),
            operations=list(iam_policies.VOLUME_KEY_OPERATIONS),
            opts=child,
        )

        def node_group(
            group: str,
            spec: NodeGroupSpec,
            ami_type: str,
            capacity_type: str,
            labels: dict[str, str],
            taints: list[aws.eks.NodeGroupTaintArgs] | None,
        ) -> aws.eks.NodeGroup:
            template = node_launch_template(
                f"{prefix}-{group}", spec, args.kms_key_arn, args.tags, child
            )
            return aws.eks.NodeGroup(
                f"{prefix}-{group}",
                cluster_name=cluster_name,
                node_role_arn=node_role.arn,
                subnet_ids=args.subnet_ids,
                ami_type=ami_type,
                capacity_type=capacity_type,
                instance_types=list(spec.instance_types),
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    min_size=spec.min_size,
                    max_size=spec.max_size,
                    desired_size=spec.desired_size,
                ),
                launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                    id=template.id, version=template.latest_version.apply(str)
                ),
                labels=labels,
                taints=taints,
                update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
                tags=args.tags,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[vpc_cni, kube_proxy, autoscaling_grant, *node_role_ready],
                    # Sized at creation only; afterwards the autoscaler (or an operator) owns it.
                    ignore_changes=["scalingConfig.desiredSize"],
                ),
            )

        node_groups = [
            node_group(
                "system",
                args.system_nodes,
                SYSTEM_AMI_TYPE,
                "ON_DEMAND",
                {"ml-platform/pool": "system"},
                None,
            )
        ]
        if args.gpu_nodes is not None:
            node_groups.append(
                node_group(
                    "gpu",
                    args.gpu_nodes,
                    GPU_AMI_TYPE,
                    "SPOT" if args.gpu_nodes.spot else "ON_DEMAND",
                    {"ml-platform/pool": "gpu", GPU_NODE_LABEL[0]: GPU_NODE_LABEL[1]},
                    [
                        aws.eks.NodeGroupTaintArgs(
                            key=GPU_TAINT_KEY, value=GPU_TAINT_VALUE, effect=GPU_TAINT_EFFECT
                        )
                    ],
                )
            )

        coredns = addon("coredns", node_groups)
        ebs_csi_role, ebs_csi_policy = addon_role(
            "ebs-csi",
            EBS_CSI_SERVICE_ACCOUNT,
            EBS_CSI_POLICY,
            "EBS CSI driver: creates, attaches and encrypts persistent volumes",
        )
        ebs_csi_key = aws.iam.RolePolicy(
            f"{prefix}-ebs-csi-key",
            role=ebs_csi_role.id,
            policy=pulumi.Output.from_input(args.kms_key_arn).apply(
                lambda key: iam_policies.policy_json(*ebs_csi_key_statements(key))
            ),
            opts=pulumi.ResourceOptions(parent=ebs_csi_role),
        )
        ebs_csi = addon(
            "aws-ebs-csi-driver",
            [*node_groups, ebs_csi_policy, ebs_csi_key],
            ebs_csi_role,
            EBS_CSI_CONFIGURATION,
        )

        provider = kubernetes_provider(
            f"{prefix}-kubernetes",
            None
            if args.render_to
            else pulumi.Output.all(
                cluster_name, cluster.endpoint, cluster.certificate_authority
            ).apply(
                lambda values: eks_kubeconfig(values[0], values[1], values[2]["data"], args.region)
            ),
            args.render_to,
            child,
        )

        storage_class = k8s.storage.v1.StorageClass(
            f"{prefix}-{STORAGE_CLASS}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS,
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": args.kms_key_arn},
            # Bind where the pod lands: an EBS volume lives in one availability zone.
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Retain" if args.retention.retain else "Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[ebs_csi]),
        )

        self.cluster_name = cluster_name
        self.endpoint = cluster.endpoint
        self.oidc_provider_arn = oidc_provider.arn
        self.node_group_names = [group.node_group_name for group in node_groups]
        self.access = ClusterAccess(
            provider=provider,
            oidc_provider_arn=oidc_provider.arn,
            oidc_issuer=oidc_issuer,
            storage_class=STORAGE_CLASS,
            rendering=bool(args.render_to),
            ready=[*node_groups, vpc_cni, kube_proxy, coredns, ebs_csi, storage_class],
        )
        self.register_outputs(self.exports())

    def exports(self) -> dict[str, Any]:
        """The stack outputs of the cluster."""
        return {
            "cluster_name": self.cluster_name,
            "endpoint": self.endpoint,
            "oidc_provider_arn": self.oidc_provider_arn,
            "node_group_names": self.node_group_names,
        }


def node_launch_template(
    name: str,
    spec: NodeGroupSpec,
    kms_key_arn: pulumi.Input[str],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.ec2.LaunchTemplate:
    """A node group's launch template: IMDSv2 with hop limit 1, both volumes encrypted.

    No AMI, user data or network interfaces: EKS fills those in from the node group's AMI type
    (a template that sets them would make the group self-managed in all but name).
    """

    def volume(size: int | None) -> aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs:
        return aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
            volume_type="gp3",
            volume_size=size,
            encrypted="true",
            kms_key_id=kms_key_arn,
            delete_on_termination="true",
        )

    return aws.ec2.LaunchTemplate(
        name,
        description="EKS nodes: IMDSv2 only, hop limit 1, volumes encrypted with the platform key",
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            # One hop: the node's own processes reach the metadata service, pods (one network
            # hop further) do not, so they can never use the node role's credentials.
            http_put_response_hop_limit=1,
        ),
        block_device_mappings=[
            # The OS volume keeps the AMI's size (Bottlerocket's OS image is read-only).
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(device_name=OS_DEVICE, ebs=volume(None)),
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=DATA_DEVICE, ebs=volume(spec.disk_size_gb)
            ),
        ],
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(
                resource_type=kind, tags={"Name": name, **tags}
            )
            for kind in ("instance", "volume")
        ],
        update_default_version=True,
        tags=tags,
        opts=opts,
    )
