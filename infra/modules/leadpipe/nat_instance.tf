# egress = "nat_instance": one small ARM instance does NAT for deliver's
# private subnets, for ~$7.40 a month (t4g.nano, its Elastic IP and an 8 GB
# gp3 root volume, us-east-1; BENCHMARKS.md, "Idle and static-IP costs")
# instead of a NAT gateway's ~$36.50.
#
# What it does: Amazon Linux 2023 (arm64) forwarding IPv4 with the kernel's
# masquerade (iptables, saved so a reboot restores it), source/destination
# check off so EC2 lets it forward, every private subnet's default route to
# its network interface, the Elastic IP on that interface.
#
# Health and replacement:
# * a failed host (StatusCheckFailed_System) is recovered by EC2: the same
#   instance on new hardware, same id, network interface, private and
#   Elastic IP, so the routes stay right (the `recover` alarm below, beside
#   EC2's simplified automatic recovery, on by default);
# * a failed guest (StatusCheckFailed_Instance: kernel, network stack) is
#   rebooted (the `reboot` alarm); the forwarding setup survives a reboot;
# * both alarms also notify the alarm topic. Anything else (a retired host,
#   a terminated instance, an AMI update) is replaced by `terraform apply`,
#   which recreates it and points the routes and the address at the new one.
# While the instance is down deliver's sends fail and are retried on their
# schedule (hours to days): a short outage delays deliveries, loses none.
# One zone only; a zone's loss stops egress until the zone is back (the NAT
# gateway per zone is the option that survives it).
data "aws_ssm_parameter" "nat_ami" {
  count = local.nat_instance && var.nat_instance_ami_id == "" ? 1 : 0
  name  = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
}

locals {
  nat_instance_ami = local.nat_instance ? (var.nat_instance_ami_id != "" ? var.nat_instance_ami_id : data.aws_ssm_parameter.nat_ami[0].insecure_value) : null

  # The AWS VPC guide's NAT instance set-up (NAT instances, "Create a NAT
  # AMI"), for Amazon Linux 2023: iptables-services, forwarding on, the
  # default FORWARD rules dropped, masquerade out of the primary interface.
  nat_user_data = <<-SH
    #!/bin/bash
    set -euxo pipefail
    dnf install -y iptables-services
    systemctl enable --now iptables
    printf 'net.ipv4.ip_forward = 1\n' > /etc/sysctl.d/90-leadpipe-nat.conf
    sysctl -p /etc/sysctl.d/90-leadpipe-nat.conf
    iface=$(ip -o -4 route show to default | awk '{print $5; exit}')
    iptables -t nat -A POSTROUTING -o "$iface" -j MASQUERADE
    iptables -F FORWARD
    service iptables save
  SH
}

resource "aws_security_group" "nat" {
  #checkov:skip=CKV_AWS_382:A NAT forwards deliver's traffic to any receiver on any port; the SSRF guard (not the network) refuses private and metadata addresses.
  count       = local.nat_instance ? 1 : 0
  name        = "${var.name}-nat"
  description = "NAT instance: traffic from deliver's private subnets in, anything out"
  vpc_id      = aws_vpc.egress[0].id
  tags        = merge(local.tags, { Name = "${var.name}-nat" })

  ingress {
    description = "Forwarded traffic from the private subnets (deliver)"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = aws_subnet.private[*].cidr_block
  }

  egress {
    description = "Forwarded traffic to receivers and AWS APIs"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_instance" "nat" {
  #checkov:skip=CKV_AWS_88:A NAT instance needs a public address (its Elastic IP); nothing listens on it (the security group admits the private subnets only).
  #checkov:skip=CKV_AWS_126:Detailed monitoring costs $2.10 a month; the status checks the recovery alarms read are 1-minute metrics without it.
  #checkov:skip=CKV2_AWS_41:The instance calls no AWS API, so it has no role.
  count                       = local.nat_instance ? 1 : 0
  ami                         = local.nat_instance_ami
  instance_type               = var.nat_instance_type
  subnet_id                   = aws_subnet.public[0].id
  vpc_security_group_ids      = [aws_security_group.nat[0].id]
  source_dest_check           = false
  associate_public_ip_address = true
  ebs_optimized               = true
  monitoring                  = false
  user_data                   = local.nat_user_data
  user_data_replace_on_change = true
  tags                        = merge(local.tags, { Name = "${var.name}-nat" })

  # A burstable instance in standard mode: throttled to its baseline when out
  # of credits instead of billed for surplus ones (NAT for webhooks uses a
  # sliver of a vCPU), so the monthly price stays the listed one.
  credit_specification {
    cpu_credits = "standard"
  }

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
  }

  maintenance_options {
    auto_recovery = "default"
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = 8
    encrypted   = true
  }

  lifecycle {
    # A newer Amazon Linux release must not replace a working NAT at the next
    # apply; `terraform apply -replace=module.leadpipe.aws_instance.nat[0]`
    # moves to it when wanted.
    ignore_changes = [ami]
  }

  depends_on = [aws_internet_gateway.egress, aws_route_table_association.public]
}

resource "aws_eip_association" "nat" {
  count         = local.nat_instance ? 1 : 0
  allocation_id = aws_eip.egress[0].id
  instance_id   = aws_instance.nat[0].id
}

# EC2's recover and reboot actions on the status checks (1-minute metrics,
# free without detailed monitoring). Two alarms: $0.20 a month, inside the
# static-IP option's price.
resource "aws_cloudwatch_metric_alarm" "nat_instance_recover" {
  count               = local.nat_instance ? 1 : 0
  alarm_name          = "${var.name}-nat-instance-recover"
  alarm_description   = "The NAT instance's host failed its status check: EC2 recovers the instance on new hardware (same id, addresses and routes). deliver's sends wait for it and are retried."
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed_System"
  dimensions          = { InstanceId = aws_instance.nat[0].id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = concat(local.alarm_actions, ["arn:aws:automate:${data.aws_region.current.name}:ec2:recover"])
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "nat_instance_reboot" {
  count               = local.nat_instance ? 1 : 0
  alarm_name          = "${var.name}-nat-instance-reboot"
  alarm_description   = "The NAT instance failed its own status check (kernel, network): EC2 reboots it; the NAT set-up is restored at boot."
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed_Instance"
  dimensions          = { InstanceId = aws_instance.nat[0].id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = concat(local.alarm_actions, ["arn:aws:automate:${data.aws_region.current.name}:ec2:reboot"])
  ok_actions          = local.alarm_actions
  tags                = local.tags
}
