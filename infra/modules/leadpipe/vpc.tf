# Optional (var.egress, or var.static_egress_ip for "nat_gateway"): deliver
# runs in private subnets, one per zone, whose traffic leaves through a NAT
# with an Elastic IP, so receivers can allow-list Leadpipe's source
# addresses (output egress_ips). Two kinds of NAT:
#
# * "nat_gateway": managed NAT gateways. One by default;
#   var.nat_gateway_per_az gives each zone its own (deliver then survives a
#   zone's loss, at a NAT gateway's hourly price per zone).
# * "nat_instance" (nat_instance.tf): one small ARM instance doing NAT, for a
#   fifth of one gateway's price; one zone, recovered by EC2 on a host
#   failure.
#
# DynamoDB is reached through a free gateway endpoint, not the NAT; SQS and
# Secrets Manager go through the NAT (interface endpoints would cost more
# per hour than this traffic does). Off by default: a NAT costs money every
# hour (BENCHMARKS.md, "Idle and static-IP costs").
data "aws_availability_zones" "available" {
  count            = local.egress_vpc ? 1 : 0
  state            = "available"
  exclude_zone_ids = var.excluded_zone_ids

  # Regional zones only: no Local or Wavelength Zones.
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  # The egress kind: the variable, or what static_egress_ip meant before it.
  egress_mode  = coalesce(var.egress, var.static_egress_ip ? "nat_gateway" : "none")
  egress_vpc   = local.egress_mode != "none"
  nat_instance = local.egress_mode == "nat_instance"

  # Zone ids: the caller's, or the region's first two (minus those Lambda cannot use).
  egress_zone_ids = local.egress_vpc ? (
    length(var.availability_zone_ids) > 0 ? var.availability_zone_ids : slice(data.aws_availability_zones.available[0].zone_ids, 0, min(2, length(data.aws_availability_zones.available[0].zone_ids)))
  ) : []
  egress_zones = length(local.egress_zone_ids)
  # NAT gateways; a NAT instance needs one public subnet and one address too.
  nat_count       = local.egress_mode == "nat_gateway" ? (var.nat_gateway_per_az ? local.egress_zones : 1) : 0
  public_subnets  = local.nat_instance ? 1 : local.nat_count
  egress_ip_count = local.public_subnets
}

resource "aws_vpc" "egress" {
  #checkov:skip=CKV2_AWS_11:Flow logs are an operator's choice for this egress-only VPC.
  #checkov:skip=CKV2_AWS_12:The default security group is not used; deliver has its own.
  count                = local.egress_vpc ? 1 : 0
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(local.tags, { Name = "${var.name}-egress" })

  lifecycle {
    precondition {
      condition     = local.egress_zones >= 2
      error_message = "A fixed egress address (egress, static_egress_ip) needs two availability zones Lambda can use: set availability_zone_ids, or shorten excluded_zone_ids."
    }
  }
}

resource "aws_subnet" "public" {
  count                = local.public_subnets
  vpc_id               = aws_vpc.egress[0].id
  cidr_block           = cidrsubnet(var.vpc_cidr, 8, count.index)
  availability_zone_id = local.egress_zone_ids[count.index]
  tags                 = merge(local.tags, { Name = "${var.name}-public-${local.egress_zone_ids[count.index]}" })
}

resource "aws_subnet" "private" {
  count                = local.egress_zones
  vpc_id               = aws_vpc.egress[0].id
  cidr_block           = cidrsubnet(var.vpc_cidr, 8, count.index + 10)
  availability_zone_id = local.egress_zone_ids[count.index]
  tags                 = merge(local.tags, { Name = "${var.name}-private-${local.egress_zone_ids[count.index]}" })
}

resource "aws_internet_gateway" "egress" {
  count  = local.egress_vpc ? 1 : 0
  vpc_id = aws_vpc.egress[0].id
  tags   = merge(local.tags, { Name = "${var.name}-egress" })
}

resource "aws_eip" "egress" {
  count  = local.egress_ip_count
  domain = "vpc"
  tags   = merge(local.tags, { Name = "${var.name}-egress-${count.index}" })
}

resource "aws_nat_gateway" "egress" {
  count         = local.nat_count
  allocation_id = aws_eip.egress[count.index].id
  subnet_id     = aws_subnet.public[count.index].id
  tags          = merge(local.tags, { Name = "${var.name}-egress-${count.index}" })
  depends_on    = [aws_internet_gateway.egress]
}

resource "aws_route_table" "public" {
  count  = local.egress_vpc ? 1 : 0
  vpc_id = aws_vpc.egress[0].id
  tags   = merge(local.tags, { Name = "${var.name}-public" })

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.egress[0].id
  }
}

resource "aws_route_table_association" "public" {
  count          = local.public_subnets
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

# One private route table per zone: to its own NAT gateway, to the only one,
# or to the NAT instance's network interface (which EC2's recovery keeps).
resource "aws_route_table" "private" {
  count  = local.egress_zones
  vpc_id = aws_vpc.egress[0].id
  tags   = merge(local.tags, { Name = "${var.name}-private-${local.egress_zone_ids[count.index]}" })

  route {
    cidr_block           = "0.0.0.0/0"
    nat_gateway_id       = local.nat_instance ? null : aws_nat_gateway.egress[var.nat_gateway_per_az ? count.index : 0].id
    network_interface_id = local.nat_instance ? aws_instance.nat[0].primary_network_interface_id : null
  }
}

resource "aws_route_table_association" "private" {
  count          = local.egress_zones
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# DynamoDB through a gateway endpoint: free, and the table's traffic never
# crosses the NAT gateway (which bills per GB).
resource "aws_vpc_endpoint" "dynamodb" {
  count             = local.egress_vpc ? 1 : 0
  vpc_id            = aws_vpc.egress[0].id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.dynamodb"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id
  tags              = merge(local.tags, { Name = "${var.name}-dynamodb" })
}

resource "aws_security_group" "deliver" {
  #checkov:skip=CKV2_AWS_5:Attached to deliver's vpc_config (functions.tf), a dynamic block whose condition (local.egress_vpc) checkov's graph does not evaluate.
  #checkov:skip=CKV_AWS_382:deliver must reach any receiver a subscription names, on any port an https URL may carry; the SSRF guard (not the network) refuses private and metadata addresses.
  count       = local.egress_vpc ? 1 : 0
  name        = "${var.name}-deliver"
  description = "deliver: outbound TCP to webhook receivers (https on any port) and AWS APIs; no inbound"
  vpc_id      = aws_vpc.egress[0].id
  tags        = merge(local.tags, { Name = "${var.name}-deliver" })

  egress {
    description = "TCP to receivers (subscription URLs may name any port) and AWS APIs"
    from_port   = 1
    to_port     = 65535
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
