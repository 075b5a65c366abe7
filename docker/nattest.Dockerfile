# nattest: the base plus nattest and its Python dependencies, installed from a wheelhouse
# built on the host (`make wheelhouse`): the build needs no package index (PyPI's TLS is not
# trusted inside `docker build` here) and runs with --network=none.
ARG BASE=nattest-base:bookworm
FROM ${BASE}
ARG DEPS=unknown
COPY build/wheelhouse /tmp/wheelhouse
RUN python3 -m venv /opt/nattest \
 && /opt/nattest/bin/pip install --no-index --no-cache-dir --find-links /tmp/wheelhouse nattest \
 && rm -rf /tmp/wheelhouse
ENV PATH=/opt/nattest/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL org.nattest.deps=${DEPS}
CMD ["tini", "--", "sleep", "infinity"]
