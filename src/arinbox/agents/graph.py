"""The LangGraph graph of one email:

parse → mask → classify → extract → lookup → propose → gate ─┬─ auto ─────► execute → verify
                                                             └─ approval ─► (interrupt) ─┘
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from arinbox.agents import nodes
from arinbox.agents.context import Deps
from arinbox.agents.state import EmailState


def _after_parse(state: EmailState) -> str:
    return END if state.get("status") == "failed" else "mask"


def _after_gate(state: EmailState) -> str:
    return "approval" if state.get("status") == "waiting_approval" else "execute"


def _after_approval(state: EmailState) -> str:
    return END if state.get("status") == "rejected" else "execute"


def build_graph(checkpointer: BaseCheckpointSaver[Any]) -> CompiledStateGraph[EmailState, Deps, EmailState, EmailState]:
    g = StateGraph(EmailState, context_schema=Deps)
    g.add_node("parse", nodes.parse)
    g.add_node("mask", nodes.mask)
    g.add_node("classify", nodes.classify)
    g.add_node("extract", nodes.extract_facts)
    g.add_node("lookup", nodes.lookup)
    g.add_node("propose", nodes.propose)
    g.add_node("gate", nodes.gate)
    g.add_node("approval", nodes.approval)
    g.add_node("execute", nodes.execute)
    g.add_node("verify", nodes.verify)
    g.add_edge(START, "parse")
    g.add_conditional_edges("parse", _after_parse, ["mask", END])
    g.add_edge("mask", "classify")
    g.add_edge("classify", "extract")
    g.add_edge("extract", "lookup")
    g.add_edge("lookup", "propose")
    g.add_edge("propose", "gate")
    g.add_conditional_edges("gate", _after_gate, ["approval", "execute"])
    g.add_conditional_edges("approval", _after_approval, ["execute", END])
    g.add_edge("execute", "verify")
    g.add_edge("verify", END)
    return g.compile(checkpointer=checkpointer)
