# Optional (var.static_egress_ip): deliver runs in private subnets whose
# traffic leaves through one NAT gateway with an Elastic IP, so receivers
# can allow-list a single source address. Off by default: a NAT gateway
# costs money every hour.
data "aws_availability_zones" "available" {
  count = var.static_egress_ip ? 1 : 0
  state = "available"
}

resource "aws_vpc" "egress" {
  #checkov:skip=CKV2_AWS_11:Flow logs are an operator's choice for this egress-only VPC.
  #checkov:skip=CKV2_AWS_12:The default security group is not used; deliver has its own.
  count                = var.static_egress_ip ? 1 : 0
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = "${var.name}-egress" }
}

resource "aws_subnet" "public" {
  count             = var.static_egress_ip ? 1 : 0
  vpc_id            = aws_vpc.egress[0].id
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, 0)
  availability_zone = data.aws_availability_zones.available[0].names[0]
  tags              = { Name = "${var.name}-public" }
}

resource "aws_subnet" "private" {
  count             = var.static_egress_ip ? 2 : 0
  vpc_id            = aws_vpc.egress[0].id
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, count.index + 10)
  availability_zone = data.aws_availability_zones.available[0].names[count.index]
  tags              = { Name = "${var.name}-private-${count.index}" }
}

resource "aws_internet_gateway" "egress" {
  count  = var.static_egress_ip ? 1 : 0
  vpc_id = aws_vpc.egress[0].id
}

resource "aws_eip" "egress" {
  count  = var.static_egress_ip ? 1 : 0
  domain = "vpc"
  tags   = { Name = "${var.name}-egress" }
}

resource "aws_nat_gateway" "egress" {
  count         = var.static_egress_ip ? 1 : 0
  allocation_id = aws_eip.egress[0].id
  subnet_id     = aws_subnet.public[0].id
  depends_on    = [aws_internet_gateway.egress]
}

resource "aws_route_table" "public" {
  count  = var.static_egress_ip ? 1 : 0
  vpc_id = aws_vpc.egress[0].id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.egress[0].id
  }
}

resource "aws_route_table_association" "public" {
  count          = var.static_egress_ip ? 1 : 0
  subnet_id      = aws_subnet.public[0].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_route_table" "private" {
  count  = var.static_egress_ip ? 1 : 0
  vpc_id = aws_vpc.egress[0].id
  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.egress[0].id
  }
}

resource "aws_route_table_association" "private" {
  count          = var.static_egress_ip ? 2 : 0
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[0].id
}

resource "aws_security_group" "deliver" {
  count       = var.static_egress_ip ? 1 : 0
  name        = "${var.name}-deliver"
  description = "deliver: outbound HTTPS to webhook receivers (and AWS APIs) only"
  vpc_id      = aws_vpc.egress[0].id

  egress {
    description = "HTTPS to receivers and AWS APIs"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
