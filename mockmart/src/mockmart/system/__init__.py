"""What runs MockMart rather than what MockMart is: the stack of service processes
(:mod:`.stack`, :mod:`.processes`), ``mockmart up`` and ``mockmart demo`` (:mod:`.up`,
:mod:`.demo` and its ``demo_*`` reports), the browser-less user login of tests and demos
(:mod:`.code_login`), the SMTP sink, the local RabbitMQ node (:mod:`.broker_node`,
:mod:`.broker_part`, :mod:`.broker_demo`) and the tracing backend (:mod:`.zipkin`,
:mod:`.otlp_relay`, :mod:`.trace_backend`, :mod:`.trace_tree`)."""
