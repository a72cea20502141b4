# Multi-stage: build a static binary (pure-Go SQLite, no cgo), run it as a
# non-root user in a minimal image. Config and data are volumes.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/leadgate ./cmd/leadgate

# distroless/static: CA certificates and a nonroot user (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/leadgate /usr/local/bin/leadgate
COPY config.yaml /etc/leadgate/config.yaml
ENV LEADGATE_CONFIG=/etc/leadgate/config.yaml
# A relative storage.dsn (sqlite://leadgate.db) lands in the data volume.
WORKDIR /var/lib/leadgate
VOLUME ["/var/lib/leadgate"]
USER nonroot:nonroot
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/leadgate"]
CMD ["serve"]
